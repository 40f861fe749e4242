using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using NativeNet.Core.Backends;
using NativeNet.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

internal sealed class BenchInferCommand : Command<BenchInferCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandOption("--preset <NAME>")] [Description("The network to time (default 'default').")] public string Preset { get; init; } = "default";
        [CommandOption("--threads <N>")] [Description("Worker threads for the batch (default: all cores).")] public int Threads { get; init; } = Environment.ProcessorCount;
        [CommandOption("--calls <N>")] [Description("Timed single-image calls (default 20,000, in blocks of 100).")] public int Calls { get; init; } = 20_000;
        [CommandOption("--images <N>")] [Description("Images in the batch-throughput run (default 10,000).")] public int Images { get; init; } = 10_000;
        [CommandOption("--json")] [Description("Print one JSON object.")] public bool Json { get; init; }
        [CommandOption("--profile")] [Description("Also print the time each backend primitive takes in a single-image Predict.")] public bool Profile { get; init; }

        public override ValidationResult Validate()
        {
            if (Threads < 1 || Threads > Environment.ProcessorCount * 4) return ValidationResult.Error($"--threads must be between 1 and {Environment.ProcessorCount * 4}.");
            if (Calls < 100) return ValidationResult.Error("--calls must be at least 100.");
            if (Images < 1) return ValidationResult.Error("--images must be at least 1.");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        const int Block = 100;
        var preset = Presets.Get(s.Preset);
        using var device = new CpuBackend(s.Threads);
        var profiler = s.Profile ? new ProfilingBackend(device) : null;
        IComputeBackend backend = (IComputeBackend?)profiler ?? device;
        using var net = preset.Spec.Build(1, preset.Init, backend);
        int features = net.InputSize, k = net.OutputSize;
        var rng = new Random(42);
        var images = new float[s.Images * features];
        for (int i = 0; i < images.Length; i++) images[i] = rng.NextSingle();
        var output = new float[k];
        int distinct = Math.Min(s.Images, 256);

        // Warm up until tiered compilation has optimized the hot methods (it recompiles them after ~100 ms of use).
        var outputs = new float[s.Images * k];
        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 1.5;)
        {
            for (int i = 0; i < Block; i++) net.Predict(images.AsSpan(i % distinct * features, features), output);
            net.PredictBatch(images.AsSpan(0, Math.Min(s.Images, Network.PredictBatchCapacity) * features), outputs.AsSpan(0, Math.Min(s.Images, Network.PredictBatchCapacity) * k));
        }
        profiler?.Reset();
        int blocks = s.Calls / Block;
        var perCall = new double[blocks];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int b = 0; b < blocks && !cancellation.IsCancellationRequested; b++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < Block; i++) net.Predict(images.AsSpan((b * Block + i) % distinct * features, features), output);
            perCall[b] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / Block;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        cancellation.ThrowIfCancellationRequested();
        var profile = profiler?.Report();   // single-image calls only
        Array.Sort(perCall);
        double latency = perCall[blocks / 2];

        var clock = Stopwatch.StartNew();
        net.PredictBatch(images, outputs);
        double batchSeconds = clock.Elapsed.TotalSeconds;
        double throughput = s.Images / batchSeconds;

        if (s.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                preset = preset.Name, threads = s.Threads, backend = backend.Name, latency_us = Math.Round(latency, 3), single_calls = blocks * Block,
                allocated_bytes_per_call = (double)allocated / (blocks * Block), batch_images = s.Images, batch_seconds = Math.Round(batchSeconds, 4),
                batch_images_per_second = Math.Round(throughput, 1),
            }));
            return 0;
        }
        AnsiConsole.MarkupLineInterpolated($"{preset.Name} on {backend.Name}");
        AnsiConsole.MarkupLineInterpolated($"  single image: median [green]{latency:F2} µs[/] per Predict (median of {blocks} blocks of {Block} calls), {(double)allocated / (blocks * Block):F1} bytes allocated per call");
        AnsiConsole.MarkupLineInterpolated($"  batch: [green]{throughput:N0} images/s[/] (PredictBatch of {s.Images:N0} images in {batchSeconds * 1000:F1} ms)");
        if (profile is not null)
        {
            int calls = blocks * Block;
            var table = new Table().AddColumns("primitive (single image)", "us/call", "calls/Predict", "share");
            double total = profile.Sum(r => r.Seconds);
            foreach (var (name, sec, n) in profile)
                table.AddRow(name, (sec * 1e6 / calls).ToString("F2"), (n / calls).ToString(), (sec / total).ToString("P0"));
            AnsiConsole.Write(table);
        }
        return 0;
    }
}
