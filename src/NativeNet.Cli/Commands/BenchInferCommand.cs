using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using NativeNet.Cli.Bench;
using NativeNet.Core.Backends;
using NativeNet.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>
/// Inference speed of a preset's network (random weights) or a model file: single-image latency and the throughput of
/// batches of 100 and of --images images. With --compare onnxruntime the same network, exported to ONNX, is timed
/// through ONNX Runtime in the same process with the same thread count, and both are printed with their ratio. With
/// --paired-threads N single images are also timed on N threads, in blocks alternating with the --threads network.
/// </summary>
internal sealed class BenchInferCommand : Command<BenchInferCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandOption("--preset <NAME>")] [Description("The network to time (default 'default').")] public string Preset { get; init; } = "default";
        [CommandOption("--model <FILE>")] [Description("Time a saved model (.safetensors or .onnx) instead of a preset's network.")] public string? Model { get; init; }
        [CommandOption("--threads <N>")] [Description("Worker threads (default: all cores); ONNX Runtime's intra-op threads too.")] public int Threads { get; init; } = Environment.ProcessorCount;
        [CommandOption("--calls <N>")] [Description("Timed single-image calls (default 20,000, in blocks of 100).")] public int Calls { get; init; } = 20_000;
        [CommandOption("--images <N>")] [Description("Images in the large-batch run (default 10,000).")] public int Images { get; init; } = 10_000;
        [CommandOption("--compare <LIB>")] [Description("Also time 'onnxruntime' (Microsoft.ML.OnnxRuntime, CPU provider) on the exported network.")] public string? Compare { get; init; }
        [CommandOption("--json")] [Description("Print one JSON object.")] public bool Json { get; init; }
        [CommandOption("--profile")] [Description("Also print the time each backend primitive takes in a single-image Predict.")] public bool Profile { get; init; }
        [CommandOption("--paired-threads <N>")] [Description("Also time single images on N threads, in blocks alternating with --threads in this process, so both see the same machine.")] public int? PairedThreads { get; init; }

        public override ValidationResult Validate()
        {
            if (Threads < 1 || Threads > Environment.ProcessorCount * 4) return ValidationResult.Error($"--threads must be between 1 and {Environment.ProcessorCount * 4}.");
            if (Calls < 100) return ValidationResult.Error("--calls must be at least 100.");
            if (Images < 1) return ValidationResult.Error("--images must be at least 1.");
            if (Compare is not null && Compare != "onnxruntime") return ValidationResult.Error($"--compare knows only 'onnxruntime', not '{Compare}'.");
            if (PairedThreads is int p && (p < 1 || p > Environment.ProcessorCount * 4)) return ValidationResult.Error($"--paired-threads must be between 1 and {Environment.ProcessorCount * 4}.");
            return ValidationResult.Success();
        }
    }

    /// <summary>One implementation's figures: median single-image latency, batch-of-100 and large-batch throughput, bytes allocated per single call.</summary>
    private sealed record Timing(string Name, double LatencyUs, double Batch100PerSecond, double BatchPerSecond, double AllocatedPerCall,
        IReadOnlyList<(string Name, double Seconds, long Calls)>? Profile);

    private const int Block = 100;

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        using var device = new CpuBackend(s.Threads);
        var profiler = s.Profile ? new ProfilingBackend(device) : null;
        IComputeBackend backend = (IComputeBackend?)profiler ?? device;
        string name = s.Model is null ? s.Preset : Path.GetFileName(s.Model);
        using var net = OpenNetwork(s, backend);
        var rng = new Random(42);
        var images = new float[s.Images * net.InputSize];
        for (int i = 0; i < images.Length; i++) images[i] = rng.NextSingle();

        var targets = new List<IInferenceTarget> { new NativeNetTarget(net) };
        try
        {
            if (s.Compare == "onnxruntime") targets.Add(new OnnxRuntimeTarget(net, s.Threads));
            var timings = new List<Timing>();
            foreach (var target in targets) timings.Add(Measure(target, net, images, s, target is NativeNetTarget ? profiler : null, cancellation));
            Paired? paired = null;
            if (s.PairedThreads is int pairedThreads)
            {
                using var pairedDevice = new CpuBackend(pairedThreads);
                using var pairedNet = OpenNetwork(s, pairedDevice);
                paired = MeasurePaired(net, pairedNet, pairedThreads, images, s, cancellation);
            }
            Report(s, name, backend.Name, timings, timings[0].Profile, paired, net.SingleImagesSplit);
            return 0;
        }
        finally
        {
            foreach (var t in targets) t.Dispose();
        }
    }

    private static Network OpenNetwork(Settings s, IComputeBackend backend)
    {
        if (s.Model is not null) return ModelFiles.Load(Path.GetFullPath(s.Model), backend);
        var preset = Presets.Get(s.Preset);
        return preset.Spec.Build(1, preset.Init, backend);
    }

    private static Timing Measure(IInferenceTarget target, Network net, float[] images, Settings s, ProfilingBackend? profiler, CancellationToken cancellation)
    {
        int features = net.InputSize, k = net.OutputSize, count = s.Images, distinct = Math.Min(count, 256);
        int small = Math.Min(count, Block);
        var output = new float[k];
        var outputs = new float[count * k];
        // Warm up until tiered compilation has optimized the hot methods (it recompiles them after ~100 ms of use).
        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 1.5;)
        {
            for (int i = 0; i < Block; i++) target.PredictOne(images.AsSpan(i % distinct * features, features), output);
            target.PredictBatch(images.AsSpan(0, small * features), outputs.AsSpan(0, small * k));
        }
        profiler?.Reset();
        int blocks = s.Calls / Block;
        var perCall = new double[blocks];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int b = 0; b < blocks; b++)
        {
            cancellation.ThrowIfCancellationRequested();
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < Block; i++) target.PredictOne(images.AsSpan((b * Block + i) % distinct * features, features), output);
            perCall[b] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / Block;
        }
        double allocated = (double)(GC.GetAllocatedBytesForCurrentThread() - before) / (blocks * Block);
        var profile = profiler?.Report();   // the single-image calls only, before the batches below
        // Batches of 100: the median of about a second of calls. The large batch: the median of three calls.
        var hundred = new List<double>();
        for (var clock = Stopwatch.StartNew(); hundred.Count < 5 || clock.Elapsed.TotalSeconds < 1;)
        {
            long t0 = Stopwatch.GetTimestamp();
            target.PredictBatch(images.AsSpan(0, small * features), outputs.AsSpan(0, small * k));
            hundred.Add(small / Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        var large = new List<double>();
        for (int r = 0; r < 3; r++)
        {
            cancellation.ThrowIfCancellationRequested();
            long t0 = Stopwatch.GetTimestamp();
            target.PredictBatch(images, outputs);
            large.Add(count / Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return new Timing(target.Name, Median(perCall), Median(hundred), Median(large), allocated, profile);
    }

    /// <summary>Single-image medians of the network on --threads and on --paired-threads, from the same run of alternating blocks.</summary>
    private sealed record Paired(int Threads, double LatencyUs, double PairedLatencyUs);

    /// <summary>
    /// Blocks of single-image calls on <paramref name="net"/> and <paramref name="pairedNet"/> (the same weights on
    /// another thread count), alternating and swapping which goes first every pair, so that a slower spell of the
    /// machine falls on both: the ratio of the medians holds in a process even where the figures move between processes.
    /// </summary>
    private static Paired MeasurePaired(Network net, Network pairedNet, int pairedThreads, float[] images, Settings s, CancellationToken cancellation)
    {
        int features = net.InputSize, distinct = Math.Min(s.Images, 256), blocks = s.Calls / Block;
        var output = new float[net.OutputSize];
        var times = new[] { new double[blocks], new double[blocks] };
        Network[] nets = [net, pairedNet];
        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 1;)
            foreach (var n in nets)
                for (int i = 0; i < Block; i++) n.Predict(images.AsSpan(i % distinct * features, features), output);
        for (int b = 0; b < blocks; b++)
            for (int turn = 0; turn < 2; turn++)
            {
                cancellation.ThrowIfCancellationRequested();
                int which = (turn + b) % 2;
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < Block; i++) nets[which].Predict(images.AsSpan((b * Block + i) % distinct * features, features), output);
                times[which][b] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / Block;
            }
        return new Paired(pairedThreads, Median(times[0]), Median(times[1]));
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private static void Report(Settings s, string name, string backend, List<Timing> timings, IReadOnlyList<(string Name, double Seconds, long Calls)>? profile,
        Paired? paired, bool? singleImagesSplit)
    {
        var ours = timings[0];
        var other = timings.Count > 1 ? timings[1] : null;
        if (s.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                network = name, threads = s.Threads, backend, single_calls = s.Calls / Block * Block, batch_images = s.Images,
                latency_us = Math.Round(ours.LatencyUs, 3), allocated_bytes_per_call = ours.AllocatedPerCall,
                single_image_split = singleImagesSplit,
                batch100_images_per_second = Math.Round(ours.Batch100PerSecond, 1), batch_images_per_second = Math.Round(ours.BatchPerSecond, 1),
                compare = other is null ? null : new
                {
                    name = other.Name, latency_us = Math.Round(other.LatencyUs, 3), batch100_images_per_second = Math.Round(other.Batch100PerSecond, 1),
                    batch_images_per_second = Math.Round(other.BatchPerSecond, 1),
                },
                paired = paired is null ? null : new
                {
                    threads = s.Threads, latency_us = Math.Round(paired.LatencyUs, 3),
                    paired_threads = paired.Threads, paired_latency_us = Math.Round(paired.PairedLatencyUs, 3),
                },
            }));
            return;
        }
        AnsiConsole.MarkupLineInterpolated($"{name} on {backend}, {s.Threads} thread(s); single image: median of {s.Calls / Block} blocks of {Block} calls; batches: median of repeated calls");
        var table = new Table().AddColumns("", ours.Name);
        if (other is not null) table.AddColumns(other.Name, "NativeNet speed-up");
        void Row(string what, Func<Timing, double> f, string format, bool lowerIsBetter)
        {
            var cells = new List<string> { what, f(ours).ToString(format) };
            if (other is not null) cells.AddRange([f(other).ToString(format), (lowerIsBetter ? f(other) / f(ours) : f(ours) / f(other)).ToString("F2") + "x"]);
            table.AddRow(cells.ToArray());
        }
        Row("single image, µs", t => t.LatencyUs, "F2", true);
        Row("batch of 100, images/s", t => t.Batch100PerSecond, "N0", false);
        Row($"batch of {s.Images:N0}, images/s", t => t.BatchPerSecond, "N0", false);
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"NativeNet allocated {ours.AllocatedPerCall:F1} bytes per single-image call");
        if (singleImagesSplit is bool splits)
            AnsiConsole.MarkupLineInterpolated($"Single images {(splits ? "split over the threads" : "run on the calling thread alone")}, as the last trial found faster");
        if (paired is not null)
            AnsiConsole.MarkupLineInterpolated($"Single image in alternating blocks: {s.Threads} thread(s) {paired.LatencyUs:F2} µs, {paired.Threads} thread(s) {paired.PairedLatencyUs:F2} µs ({paired.PairedLatencyUs / paired.LatencyUs:F2}x)");
        if (profile is not null)
        {
            int calls = s.Calls / Block * Block;
            var p = new Table().AddColumns("primitive (single image)", "us/call", "calls/Predict", "share");
            double total = profile.Sum(r => r.Seconds);
            foreach (var (primitive, sec, n) in profile)
                p.AddRow(primitive, (sec * 1e6 / calls).ToString("F2"), (n / calls).ToString(), (sec / total).ToString("P0"));
            AnsiConsole.Write(p);
        }
    }
}
