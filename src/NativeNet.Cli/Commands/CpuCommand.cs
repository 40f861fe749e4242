using System.ComponentModel;
using System.Text.Json;
using NativeNet.Core;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>`nativenet cpu`: the CPU context this process runs (level, GEMM blocking, fused kernels) and every level the CPU supports.</summary>
internal sealed class CpuCommand : Command<CpuCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandOption("--json")] [Description("Print a JSON object.")] public bool Json { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var cpu = CpuContext.Default;
        var (mr, nr, mc, kc, nc) = cpu.GemmBlocking;
        string[] supported = [.. CpuContext.SupportedLevels.Select(CpuContext.Name)];
        if (s.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["level"] = CpuContext.Name(cpu.Level), ["forced"] = CpuContext.IsForced, ["supported_levels"] = supported,
                ["gemm_tile"] = new[] { mr, nr }, ["gemm_blocks"] = new[] { mc, kc, nc },
                ["fused_dense_backward"] = cpu.HasFusedDenseBackward, ["direct_convolution"] = cpu.HasDirectConvolution,
                ["processors"] = Environment.ProcessorCount,
            }));
            return 0;
        }
        var table = new Table().AddColumns("", "");
        table.AddRow("level", $"{CpuContext.Name(cpu.Level)} ({(CpuContext.IsForced ? $"forced by {CpuContext.LevelVariable}" : "the widest this CPU supports")})");
        table.AddRow("supported levels", string.Join(", ", supported));
        table.AddRow("GEMM micro-kernel", $"{mr} x {nr}");
        table.AddRow("GEMM blocks", $"MC {mc}, KC {kc}, NC {nc}");
        table.AddRow("fused dense backward", cpu.HasFusedDenseBackward ? "yes" : "no (avx2 and avx512 only)");
        table.AddRow("direct convolution", cpu.HasDirectConvolution ? "yes" : "no (avx2 and avx512 only)");
        table.AddRow("processors", Environment.ProcessorCount.ToString());
        AnsiConsole.Write(table);
        return 0;
    }
}
