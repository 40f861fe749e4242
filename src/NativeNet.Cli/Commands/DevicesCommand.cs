using System.ComponentModel;
using System.Text.Json;
using NativeNet.OpenCL;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

internal sealed class DevicesCommand : Command<DevicesCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandOption("--json")] [Description("Print a JSON array.")] public bool Json { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var devices = OpenClDevices.List();   // throws OpenClException naming the problem when there is no platform
        if (s.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(devices.Select(d => new
            {
                spec = d.Spec, platform = d.Platform, name = d.Name, type = d.Type.ToString(), global_memory_bytes = d.GlobalMemoryBytes,
                compute_units = d.ComputeUnits, version = d.Version,
            })));
            return 0;
        }
        var table = new Table().AddColumns("--device", "platform", "name", "type", "memory", "compute units", "version");
        foreach (var d in devices)
            table.AddRow(Markup.Escape(d.Spec), Markup.Escape(d.Platform), Markup.Escape(d.Name), d.Type.ToString(),
                $"{d.GlobalMemoryBytes / (1 << 20):N0} MiB", d.ComputeUnits.ToString(), Markup.Escape(d.Version));
        AnsiConsole.Write(table);
        return 0;
    }
}
