using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using NativeNet.Core.Backends;
using NativeNet.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

internal sealed class BenchTrainCommand : Command<BenchTrainCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandOption("--preset <NAME>")] [Description("The network to time (default 'default').")] public string Preset { get; init; } = "default";
        [CommandOption("--batch <N>")] [Description("Mini-batch size (default: the preset's).")] public int? Batch { get; init; }
        [CommandOption("--threads <N>")] [Description("Worker threads (default: all cores).")] public int Threads { get; init; } = Environment.ProcessorCount;
        [CommandOption("--batches <K>")] [Description("Timed mini-batches (default 500), after a warm-up of at least 1.5 s and 50 steps (so the JIT has tiered up).")] public int Batches { get; init; } = 500;
        [CommandOption("--json")] [Description("Print one JSON object.")] public bool Json { get; init; }
        [CommandOption("--split <K>")] [Description("Split each mini-batch into K slices over the threads (1: whole batch, threads inside GEMM; default: automatic).")] public int Split { get; init; }
        [CommandOption("--micro-batch <N>")] [Description("The most examples one workspace pass takes; larger shares of a mini-batch run in passes that add their gradients (0: automatic).")] public int MicroBatch { get; init; }
        [CommandOption("--device <DEV>")] [Description("cpu (default), opencl or opencl:N.")] public string Device { get; init; } = "cpu";
        [CommandOption("--unfused")] [Description("Keep weight gradient and update apart (no SGD step folded into the GEMM), to measure what the fusion saves.")] public bool Unfused { get; init; }
        [CommandOption("--profile")] [Description("Also print the time spent in each backend primitive.")] public bool Profile { get; init; }
        [CommandOption("--paired-batch <N>")] [Description("Also time a second trainer of the same network with mini-batches of N, in blocks alternating with the first in this process, so both see the same machine.")] public int? PairedBatch { get; init; }
        [CommandOption("--paired-split <K>")] [Description("The second trainer's split (with or without --paired-batch; 0: automatic).")] public int? PairedSplit { get; init; }
        [CommandOption("--paired-micro-batch <N>")] [Description("The second trainer's micro-batch (with or without the other --paired options; 0: automatic).")] public int? PairedMicroBatch { get; init; }

        public bool Paired => PairedBatch is not null || PairedSplit is not null || PairedMicroBatch is not null;

        public override ValidationResult Validate()
        {
            if (Threads < 1 || Threads > Environment.ProcessorCount * 4) return ValidationResult.Error($"--threads must be between 1 and {Environment.ProcessorCount * 4}.");
            if (Batch is < 1) return ValidationResult.Error("--batch must be at least 1.");
            if (Batches < 1) return ValidationResult.Error("--batches must be at least 1.");
            if (Split < 0) return ValidationResult.Error("--split must be 0 (automatic) or positive.");
            if (PairedBatch is < 1) return ValidationResult.Error("--paired-batch must be at least 1.");
            if (PairedSplit is < 0) return ValidationResult.Error("--paired-split must be 0 (automatic) or positive.");
            if (MicroBatch < 0 || PairedMicroBatch is < 0) return ValidationResult.Error("--micro-batch and --paired-micro-batch must be 0 (automatic) or positive.");
            if (Paired && Profile) return ValidationResult.Error("--profile times one trainer: leave out the --paired options.");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        const int EpochImages = 50_000;
        var preset = Presets.Get(s.Preset);
        using var device = CliSupport.CreateBackend(s.Device, s.Threads);
        // On a queued device, make each primitive wait for its kernels, so the table shows device time per primitive.
        var profiler = s.Profile ? new ProfilingBackend(device, synchronizeEach: device is not CpuBackend) : null;
        IComputeBackend backend = (IComputeBackend?)profiler ?? device;
        using var net = preset.Spec.Build(1, preset.Init, backend, withMomentum: preset.Momentum > 0);
        var options = preset.Sgd(EpochImages, 1) with { BatchSize = s.Batch ?? preset.BatchSize, MiniBatchSplit = s.Split, MicroBatch = s.MicroBatch, FuseWeightUpdate = !s.Unfused };
        using var trainer = new SgdTrainer(net, options);
        var pairedOptions = options with { BatchSize = s.PairedBatch ?? options.BatchSize, MiniBatchSplit = s.PairedSplit ?? options.MiniBatchSplit,
            MicroBatch = s.PairedMicroBatch ?? options.MicroBatch };
        using var pairedTrainer = s.Paired ? new SgdTrainer(net, pairedOptions) : null;   // the same weights, its own workspaces
        int m = options.BatchSize, features = net.InputSize, largest = Math.Max(m, pairedOptions.BatchSize);

        // Random images and labels: the arithmetic per step does not depend on the values.
        var rng = new Random(42);
        const int Pool = 64;
        var pixels = new float[Pool * largest * features];
        var labels = new byte[Pool * largest];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = rng.NextSingle();
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)rng.Next(net.OutputSize);
        void Step(SgdTrainer t, int k)
        {
            int b = k % Pool, size = t.Options.BatchSize;
            t.Step(pixels.AsSpan(b * size * features, size * features), labels.AsSpan(b * size, size));
        }
        // Tiered compilation starts every method unoptimized and recompiles hot ones in the background after ~100 ms:
        // time only once that has happened.
        int warmUp = 0;
        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 1.5 || warmUp < 50; warmUp++)
        {
            Step(trainer, warmUp);
            if (pairedTrainer is not null) Step(pairedTrainer, warmUp);
        }
        profiler?.Reset();
        long before = GC.GetAllocatedBytesForCurrentThread();
        // Unpaired, one block; paired, ten blocks of each trainer in turn, the second's steps covering as many images.
        int blocks = pairedTrainer is null ? 1 : Math.Min(10, s.Batches);
        int perBlock = Math.Max(1, s.Batches / blocks), pairedPerBlock = Math.Max(1, (int)Math.Round((double)perBlock * m / pairedOptions.BatchSize));
        double seconds = 0, pairedSeconds = 0;
        int done = 0, pairedDone = 0;
        for (int block = 0; block < blocks && !cancellation.IsCancellationRequested; block++)
        {
            long start = Stopwatch.GetTimestamp();   // timestamps, not Stopwatch objects: the timed loop allocates nothing
            for (int i = 0; i < perBlock && !cancellation.IsCancellationRequested; i++, done++) Step(trainer, done);
            backend.Synchronize();   // a device may still be running queued kernels
            seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (pairedTrainer is null) continue;
            start = Stopwatch.GetTimestamp();
            for (int i = 0; i < pairedPerBlock && !cancellation.IsCancellationRequested; i++, pairedDone++) Step(pairedTrainer, pairedDone);
            backend.Synchronize();
            pairedSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (done == 0) throw new OperationCanceledException();
        double imagesPerSecond = done * m / seconds;
        double epochSeconds = EpochImages / imagesPerSecond;
        long perStep = allocated / (done + pairedDone);
        double gflops = imagesPerSecond * net.TrainingFlopsPerExample / 1e9;
        bool fused = trainer.FusesWeightUpdateOn(m);   // every timed step has m examples
        double pairedImagesPerSecond = pairedDone == 0 ? 0 : pairedDone * pairedOptions.BatchSize / pairedSeconds;
        if (s.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                preset = preset.Name, batch = m, threads = s.Threads, backend = backend.Name, timed_batches = done, seconds = Math.Round(seconds, 4),
                images_per_second = Math.Round(imagesPerSecond, 1), epoch_seconds = Math.Round(epochSeconds, 3), epoch_images = EpochImages,
                extrapolated = true, allocated_bytes_per_step = perStep, split = trainer.Split, micro_batch = trainer.MicroBatch,
                fused_update = fused, synchronized_profile = profiler?.SynchronizesEach ?? false,
                gemm_flops_per_image = net.TrainingFlopsPerExample, gflops = Math.Round(gflops, 1),
                paired = pairedTrainer is null ? null : new
                {
                    batch = pairedOptions.BatchSize, split = pairedTrainer.Split, micro_batch = pairedTrainer.MicroBatch, timed_batches = pairedDone, images_per_second = Math.Round(pairedImagesPerSecond, 1),
                    epoch_seconds = Math.Round(EpochImages / pairedImagesPerSecond, 3), blocks,
                    images_per_second_ratio = Math.Round(imagesPerSecond / pairedImagesPerSecond, 4),
                },
            }));
            return 0;
        }
        AnsiConsole.MarkupLineInterpolated($"{preset.Name} on {backend.Name}, m = {m}: {done} mini-batches in {seconds:F2} s after {warmUp} warm-up steps");
        AnsiConsole.MarkupLineInterpolated($"  {imagesPerSecond:N0} images/s; [green]{epochSeconds:F3} s per {EpochImages:N0}-image epoch[/] (extrapolated from the timed steps, evaluation not included)");
        AnsiConsole.MarkupLineInterpolated($"  {gflops:F1} GFLOP/s in the GEMMs ({net.TrainingFlopsPerExample / 1e6:F2} MFLOP per image); mini-batch split {trainer.Split}, passes of at most {trainer.MicroBatch}; SGD update fused into the GEMMs: {(fused ? "yes" : "no")}");
        AnsiConsole.MarkupLineInterpolated($"  allocated {perStep} bytes per step");
        if (pairedTrainer is not null)
            AnsiConsole.MarkupLineInterpolated($"  in {blocks} alternating blocks: m = {m}, split {trainer.Split}, passes of at most {trainer.MicroBatch}: {imagesPerSecond:N0} images/s; m = {pairedOptions.BatchSize}, split {pairedTrainer.Split}, passes of at most {pairedTrainer.MicroBatch}: {pairedImagesPerSecond:N0} images/s ({imagesPerSecond / pairedImagesPerSecond:F2}x)");
        if (profiler is not null)
        {
            if (profiler.SynchronizesEach)
                AnsiConsole.MarkupLine("  (profiled with a wait after every primitive: the rows are device times, the rate above includes the waits)");
            var table = new Table().AddColumns("primitive", "us/step", "calls/step", "share");
            double total = profiler.Report().Sum(r => r.Seconds);
            foreach (var (name, sec, calls) in profiler.Report())
                table.AddRow(name, (sec * 1e6 / done).ToString("F1"), (calls / done).ToString(), (sec / total).ToString("P0"));
            AnsiConsole.Write(table);
        }
        return 0;
    }
}
