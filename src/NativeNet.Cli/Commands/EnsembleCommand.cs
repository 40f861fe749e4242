using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using NativeNet.Core.Backends;
using NativeNet.Persistence;
using NativeNet.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>
/// Chapter 6's ensemble: trains --count networks of one preset with seeds seed..seed+count-1 (each exactly as `train`
/// would with that seed, keeping its best-validation parameters), then classifies the test set by plurality vote.
/// <para>
/// --parallel N trains N members at once, each on its own CPU backend with threads / N worker threads. A mini-batch of
/// 10 keeps two threads of one network waiting on each other, while two networks side by side never wait, so two
/// members at once train more images per second than one after the other (measured in benchmarks/results/README.md,
/// "ensemble"). Members are bit-identical either way: each is fixed by its seed.
/// </para>
/// <para>
/// With --out, each member trains in DIR/seed-S and leaves DIR/seed-S/member.json when it is done; --resume then reuses
/// the finished members (their best model) and continues an unfinished one from its checkpoint, so an interrupted
/// ensemble of hours loses at most the epoch in progress.
/// </para>
/// </summary>
internal sealed class EnsembleCommand : Command<EnsembleCommand.Settings>
{
    internal sealed class Settings : RunSettings
    {
        [CommandOption("--count <N>")] [Description("Number of networks (default: the preset's, ch6-ensemble's 5, else 5).")] public int? Count { get; init; }
        [CommandOption("--epochs <N>")] [Description("Epochs per network (default: the preset's).")] public int? Epochs { get; init; }
        [CommandOption("--seed <N>")] [Description("Seed of the first network; network i uses seed + i (default 1).")] public int Seed { get; init; } = 1;
        [CommandOption("--parallel <N>")] [Description("Train N networks at once, each on threads / N worker threads (CPU only; default 1).")] public int Parallel { get; init; } = 1;
        [CommandOption("--out <DIR>")] [Description("Save each member's best model and checkpoint in DIR/seed-S and the result in DIR/ensemble.json.")] public string? Out { get; init; }
        [CommandOption("--resume")] [Description("Reuse the members already finished in --out DIR and continue unfinished ones from their checkpoints.")] public bool Resume { get; init; }
        [CommandOption("--json")] [Description("Print one JSON object with the members and ensemble_test_accuracy (progress goes to stderr).")] public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } shared) return shared;
            if (Count is < 1 or > 100) return ValidationResult.Error("--count must be between 1 and 100.");
            if (Epochs is < 1) return ValidationResult.Error("--epochs must be at least 1.");
            if (Parallel < 1) return ValidationResult.Error("--parallel must be at least 1.");
            if (Parallel > 1 && Device != "cpu") return ValidationResult.Error("--parallel above 1 needs --device cpu (one device trains one network at a time).");
            if (Parallel > Threads) return ValidationResult.Error($"--parallel {Parallel} needs at least as many --threads (got {Threads}): each network gets threads / parallel.");
            if (Resume && Out is null) return ValidationResult.Error("--resume needs --out DIR, the folder of the interrupted ensemble.");
            return ValidationResult.Success();
        }
    }

    /// <summary>One trained member, as reported and as saved in DIR/seed-S/member.json.</summary>
    private sealed record Member(int Seed, int BestEpoch, double BestValidationAccuracy, double TestAccuracy, double Seconds, string StopReason, string Source = "trained");

    private const string MemberFile = "member.json";
    private static readonly JsonSerializerOptions MemberJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var plan = TrainingPlan.Resolve(s.Preset, s.Layers, epochs: s.Epochs, trainSize: s.TrainSize);
        int count = s.Count ?? (plan.Ensemble > 1 ? plan.Ensemble : 5);
        TextWriter log = s.Json ? Console.Error : Console.Out;
        string? outDir = s.Out is null ? null : TrainingPlan.PrepareOutputDirectory(s.Out);

        var (data, training) = s.LoadTraining(plan, log);
        int lanes = Math.Min(s.Parallel, count);
        var backends = new List<IComputeBackend>();
        var nets = new Network?[count];
        var members = new Member?[count];
        try
        {
            for (int l = 0; l < lanes; l++) backends.Add(CliSupport.CreateBackend(s.Device, s.Threads / lanes));
            log.WriteLine($"{plan.Name}: {plan.Spec.Text}");
            log.WriteLine($"Ensemble of {count} networks (seeds {s.Seed}..{s.Seed + count - 1}) on {backends[0].Name}" +
                          (lanes > 1 ? $", {lanes} at a time" : "") + $"; {training.Count:N0} training images; {plan.Describe()}");

            var clock = Stopwatch.StartNew();
            // A member that fails (diverges, say) stops the other lanes at their next mini-batch rather than after
            // their whole training; Ctrl+C stops them all the same way.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            // Each lane takes the next member not yet started, so reused members cost a lane nothing.
            int next = -1;
            void Lane(IComputeBackend backend)
            {
                try
                {
                    for (int i = Interlocked.Increment(ref next); i < count && !stop.IsCancellationRequested; i = Interlocked.Increment(ref next))
                    {
                        nets[i] = plan.Build(s.Seed + i, backend);
                        members[i] = Train(nets[i]!, i, s.Seed + i, count, plan, s.Resume, outDir, training, data.Validation, data.Test, log, stop.Token);
                    }
                }
                catch
                {
                    stop.Cancel();
                    throw;
                }
            }

            if (lanes == 1) Lane(backends[0]);
            else
            {
                var threads = backends.Select(b => Task.Factory.StartNew(() => Lane(b), TaskCreationOptions.LongRunning)).ToArray();
                try { Task.WaitAll(threads); }
                catch (AggregateException e) { ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw(); }
            }
            if (members.Any(m => m is null)) return NativeNetApp.CancelledExitCode;

            using var ensemble = new Ensemble(nets!);
            double vote = ensemble.Evaluate(data.Test);
            var done = members.Select(m => m!).ToArray();
            var summary = new
            {
                preset = plan.Name, architecture = plan.Spec.Text, count = count, epochs = plan.Epochs, training_images = training.Count,
                parallel = lanes,
                members = done.Select(m => new
                {
                    seed = m.Seed, best_epoch = m.BestEpoch, best_validation_accuracy = m.BestValidationAccuracy, test_accuracy = m.TestAccuracy,
                    seconds = Math.Round(m.Seconds, 3), stop_reason = m.StopReason, source = m.Source,
                }).ToArray(),
                mean_member_test_accuracy = done.Average(m => m.TestAccuracy),
                best_member_test_accuracy = done.Max(m => m.TestAccuracy),
                ensemble_test_accuracy = vote,
                seconds = Math.Round(clock.Elapsed.TotalSeconds, 3),
                @out = outDir,
            };
            if (outDir is not null)
                File.WriteAllText(Path.Combine(outDir, "ensemble.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
            if (s.Json)
            {
                Console.WriteLine(JsonSerializer.Serialize(summary));
                return 0;
            }
            var table = new Table().AddColumns("network", "seed", "best epoch", "validation", "test");
            for (int i = 0; i < done.Length; i++)
            {
                var m = done[i];
                table.AddRow((i + 1).ToString(), m.Seed.ToString(), m.BestEpoch.ToString(), $"{m.BestValidationAccuracy * 100:F2}%", $"{m.TestAccuracy * 100:F2}%");
            }
            table.AddEmptyRow();
            table.AddRow("[bold]vote[/]", "", "", "", $"[bold]{vote * 100:F2}%[/]");
            AnsiConsole.Write(table);
            Console.WriteLine($"Ensemble of {count}: test {vote * 100:F2}% by plurality vote (members: mean {summary.mean_member_test_accuracy * 100:F2}%, best {summary.best_member_test_accuracy * 100:F2}%), {clock.Elapsed.TotalSeconds:F1} s." +
                              (outDir is null ? "" : $" Saved in {outDir}"));
            return 0;
        }
        finally
        {
            foreach (var n in nets) n?.Dispose();
            foreach (var b in backends) b.Dispose();
        }
    }

    /// <summary>
    /// Trains member <paramref name="index"/> (or, with resume, reuses or continues it) and leaves the network holding its
    /// best-validation parameters. Null when cancelled.
    /// </summary>
    private static Member? Train(Network net, int index, int seed, int count, TrainingPlan plan, bool resume, string? outDir,
        NativeNet.Data.LabeledImages training, NativeNet.Data.LabeledImages validation, NativeNet.Data.LabeledImages test,
        TextWriter log, CancellationToken cancellation)
    {
        string name = $"network {index + 1}/{count} (seed {seed})";
        string? memberDir = outDir is null ? null : Path.Combine(outDir, $"seed-{seed}");
        if (memberDir is not null) Directory.CreateDirectory(memberDir);
        string? bestFile = memberDir is null ? null : Path.Combine(memberDir, TrainingSession.BestModelFile);

        if (resume && memberDir is not null && File.Exists(Path.Combine(memberDir, MemberFile)))
        {
            var saved = ReadMember(Path.Combine(memberDir, MemberFile), seed);
            LoadInto(net, bestFile!, plan);
            log.WriteLine($"{name}: reused from {memberDir} (best validation {saved.BestValidationAccuracy * 100:F2}% at epoch {saved.BestEpoch}, test {saved.TestAccuracy * 100:F2}%)");
            return saved with { Source = "reused" };
        }

        var session = new TrainingSession(net, plan.Spec, plan.Options(seed, training.Count, memberDir), training, validation, test);
        bool continued = resume && memberDir is not null && File.Exists(Path.Combine(memberDir, TrainingSession.CheckpointFile));
        if (continued)
        {
            session.Resume(memberDir!);
            log.WriteLine($"{name}: continuing from {Path.Combine(memberDir!, TrainingSession.CheckpointFile)}");
        }
        // Without an output folder, keep the best-validation parameters in memory (the session reports, but does not
        // restore, them); with one, the session has saved them in best.safetensors, also across a resume.
        float[][]? best = null;
        double bestValidation = -1;
        session.OnEpoch = r =>
        {
            if (memberDir is null && r.ValidationAccuracy > bestValidation) { bestValidation = r.ValidationAccuracy; best = net.ExportParameters(); }
            log.WriteLine($"{name} {TrainingPlan.EpochLine(r)}");
        };
        var result = session.Run(cancellation);
        if (result.StopReason == StopReason.Cancelled) return null;
        if (bestFile is not null && File.Exists(bestFile)) LoadInto(net, bestFile, plan);
        else if (best is not null) net.ImportParameters(best);
        double accuracy = result.TestAccuracyAtBest ?? TestAccuracy(net, test);
        var member = new Member(seed, result.BestEpoch, result.BestValidationAccuracy, accuracy, result.Seconds, result.StopReason.ToString(),
            continued ? "continued" : "trained");
        if (memberDir is not null) File.WriteAllText(Path.Combine(memberDir, MemberFile), JsonSerializer.Serialize(member, MemberJson));
        log.WriteLine($"{name}: best validation {member.BestValidationAccuracy * 100:F2}% at epoch {member.BestEpoch}, test {accuracy * 100:F2}%");
        return member;
    }

    private static void LoadInto(Network net, string path, TrainingPlan plan)
    {
        var contents = ModelFile.Read(path);
        if (contents.Spec.Text != plan.Spec.Text)
            throw new ModelFormatException(path, 8, $"architecture '{contents.Spec}' differs from the ensemble's '{plan.Spec}'.");
        ModelFile.Apply(path, net, contents, velocity: false);
    }

    private static Member ReadMember(string path, int seed)
    {
        Member? m;
        try { m = JsonSerializer.Deserialize<Member>(File.ReadAllText(path), MemberJson); }
        catch (JsonException e) { throw new FormatException($"{path}: not a member record ({e.Message}); delete it to train this member again."); }
        if (m is null || m.Seed != seed)
            throw new FormatException($"{path}: records seed {m?.Seed.ToString() ?? "nothing"}, expected {seed}; delete it to train this member again.");
        return m;
    }

    private static double TestAccuracy(Network net, NativeNet.Data.LabeledImages test)
    {
        using var single = new Ensemble([net]);
        return single.Evaluate(test);
    }
}
