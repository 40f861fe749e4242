using System.ComponentModel;
using System.Text.Json;
using NativeNet.Cli.Bench;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

internal sealed class BenchGemmCommand : Command<BenchGemmCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandOption("--threads <N>")]
        [Description("Worker threads (default: all cores).")]
        public int Threads { get; init; } = Environment.ProcessorCount;

        [CommandOption("--compare <LIB>")]
        [Description("Also time another implementation in the same run: 'openblas' (cblas_sgemm from libopenblas).")]
        public string? Compare { get; init; }

        [CommandOption("--device <DEV>")]
        [Description("cpu (default), or opencl / opencl:N to time the device's GEMM on device-resident tensors.")]
        public string Device { get; init; } = "cpu";

        [CommandOption("--json")]
        [Description("Print a JSON array instead of a table.")]
        public bool Json { get; init; }

        [CommandOption("--seconds <S>")]
        [Description("Minimum timed seconds per shape and implementation (default 0.2).")]
        public double Seconds { get; init; } = 0.2;

        [CommandOption("--shapes <LIST>")]
        [Description("Comma-separated shapes MxKxN[[:NN|NT|TN|TT]] to time instead of the default list, e.g. 40x500x320:NT.")]
        public string? Shapes { get; init; }

        public override ValidationResult Validate()
        {
            if (Threads < 1 || Threads > Environment.ProcessorCount * 4)
                return ValidationResult.Error($"--threads must be between 1 and {Environment.ProcessorCount * 4}.");
            if (Compare is not null && Device != "cpu")
                return ValidationResult.Error("--compare openblas compares CPU kernels; leave out --device.");
            if (Compare is not null && Compare != "openblas")
                return ValidationResult.Error($"--compare knows only 'openblas', not '{Compare}'.");
            if (Shapes is not null && GemmBenchmark.ParseShapes(Shapes, out var shapeError) is null)
                return ValidationResult.Error($"--shapes: {shapeError}");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        bool compare = settings.Compare == "openblas";
        if (compare && !OpenBlas.TryLoad(out var error))
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {error}");
            return 2;
        }
        var shapes = settings.Shapes is null ? DefaultShapeList() : GemmBenchmark.ParseShapes(settings.Shapes, out _)!;
        var results = new List<GemmResult>();
        using var device = settings.Device == "cpu" ? null : CliSupport.CreateBackend(settings.Device, settings.Threads);
        IEnumerable<GemmResult> Measure() => device is null
            ? GemmBenchmark.Run(shapes, settings.Threads, compare, settings.Seconds)
            : GemmBenchmark.RunOnBackend(device, shapes, settings.Seconds);
        if (settings.Json)
        {
            results.AddRange(Measure());
            Console.WriteLine(JsonSerializer.Serialize(results.Select(r => new
            {
                m = r.M, n = r.N, k = r.K, transA = r.TransA, transB = r.TransB, threads = r.Threads, kernel = r.Kernel,
                gflops = Math.Round(r.Gflops, 2), openblas_gflops = r.OpenBlasGflops is double g ? Math.Round(g, 2) : (double?)null,
                allocated_bytes = r.AllocatedBytesPerCall,
            })));
            return 0;
        }
        var table = new Table().AddColumns("M x K x N", "op", "threads", "kernel", "GFLOP/s");
        if (compare) table.AddColumns("OpenBLAS GFLOP/s", "ratio");
        table.AddColumn("alloc B/call");
        bool live = !Console.IsOutputRedirected;
        void Show(Action<Action> body) { if (live) AnsiConsole.Live(table).Start(ctx => body(ctx.Refresh)); else { body(() => { }); AnsiConsole.Write(table); } }
        Show(refresh =>
        {
            foreach (var r in Measure())
            {
                var row = new List<string> { $"{r.M} x {r.K} x {r.N}", $"{(r.TransA ? 'T' : 'N')}{(r.TransB ? 'T' : 'N')}", r.Threads.ToString(), r.Kernel, r.Gflops.ToString("F1") };
                if (compare) row.AddRange([r.OpenBlasGflops!.Value.ToString("F1"), (r.Gflops / r.OpenBlasGflops.Value).ToString("F2")]);
                row.Add(r.AllocatedBytesPerCall.ToString());
                table.AddRow(row.ToArray());
                refresh();
            }
        });
        return 0;
    }

    /// <summary>The default shapes in NN, and in NT too where the matrices are not square.</summary>
    private static List<GemmShape> DefaultShapeList()
    {
        var shapes = new List<GemmShape>();
        foreach (var (m, k, n) in GemmBenchmark.DefaultShapes)
        {
            shapes.Add(new GemmShape(m, k, n, false, false));
            if (m != k || k != n) shapes.Add(new GemmShape(m, k, n, false, true));
        }
        return shapes;
    }
}
