using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using NativeNet.Persistence;
using NativeNet.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>
/// Chapter 6's ensemble: trains --count networks of one preset with seeds seed..seed+count-1 (each exactly as `train`
/// would with that seed, keeping its best-validation parameters), then classifies the test set by plurality vote.
/// <para>
/// --parallel N trains N members at once (at most --threads), each on its own CPU backend with its share of the threads. A mini-batch of
/// 10 keeps two threads of one network waiting on each other, while two networks side by side never wait, so two
/// members at once train more images per second than one after the other (benchmarks/experiments/training-parallelism.md).
/// Each member is fixed by its seed, and is the same bits either way for a network that keeps its
/// mini-batch whole (ch6-dropout does); one whose batches are split over the threads (ch6-relu on two) rounds
/// differently on one thread than on two (README, "Determinism").
/// </para>
/// <para>
/// With --out, each member trains in DIR/seed-S and keeps a record there, member.json: its setup when it starts, its
/// results when it is done. --resume then reuses the finished members (their best model, checked against the record's
/// checksum) and continues an unfinished one, or one that was trained for fewer epochs, from its checkpoint, so an
/// interrupted ensemble of hours loses at most the epoch in progress. A record of another setup (architecture,
/// hyper-parameters, training images) is an error, not something to mix into the vote.
/// </para>
/// </summary>
internal sealed class EnsembleCommand : Command<EnsembleCommand.Settings>
{
    internal sealed class Settings : LaneSettings
    {
        [CommandOption("--count <N>")] [Description("Number of networks (default: the preset's, ch6-ensemble's 5, else 5).")] public int? Count { get; init; }
        [CommandOption("--epochs <N>")] [Description("Epochs per network (default: the preset's).")] public int? Epochs { get; init; }
        [CommandOption("--seed <N>")] [Description("Seed of the first network; network i uses seed + i (default 1).")] public int Seed { get; init; } = 1;
        [CommandOption("--out <DIR>")] [Description("Save each member's best model and checkpoint in DIR/seed-S and the result in DIR/ensemble.json.")] public string? Out { get; init; }
        [CommandOption("--resume")] [Description("Reuse the members already finished in --out DIR and continue unfinished ones from their checkpoints.")] public bool Resume { get; init; }
        [CommandOption("--json")] [Description("Print one JSON object with the members and ensemble_test_accuracy (progress goes to stderr).")] public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } shared) return shared;
            if (Count is < 1 or > 100) return ValidationResult.Error("--count must be between 1 and 100.");
            if (Epochs is < 1) return ValidationResult.Error("--epochs must be at least 1.");
            if (Resume && Out is null) return ValidationResult.Error("--resume needs --out DIR, the folder of the interrupted ensemble.");
            return ValidationResult.Success();
        }
    }

    /// <summary>
    /// One member, as reported and as kept in DIR/seed-S/member.json: written with <see cref="Done"/> false when its
    /// training starts, and again with the results when it ends. <see cref="Setup"/> is everything but the epoch count
    /// that fixes the network a seed gives.
    /// </summary>
    private sealed record Member(int Seed, string Setup, int Epochs, bool Done = false, int BestEpoch = 0, double BestValidationAccuracy = 0,
        double TestAccuracy = 0, double Seconds = 0, string StopReason = "", string? BestModelSha256 = null, string Source = "trained");

    /// <summary>What every member's training shares.</summary>
    private sealed record Shared(TrainingPlan Plan, int Count, bool Resume, string? OutDir, NativeNet.LabeledImages Training,
        NativeNet.MnistDataset Data, TextWriter Log)
    {
        public string Setup { get; } = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{Plan.Spec.Text}; init {Plan.Init}; m = {Plan.Batch}, eta = {Plan.Eta}, lambda = {Plan.Lambda}, momentum = {Plan.Momentum}; {Training.Count} training images");
    }

    private const string MemberFile = "member.json";
    private static readonly JsonSerializerOptions MemberJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var plan = TrainingPlan.Resolve(s.Preset, s.Layers, epochs: s.Epochs, trainSize: s.TrainSize);
        int count = s.Count ?? (plan.Ensemble > 1 ? plan.Ensemble : 5);
        TextWriter log = s.Json ? Console.Error : Console.Out;
        string? outDir = s.Out is null ? null : TrainingPlan.PrepareOutputDirectory(s.Out);

        var (data, training) = s.LoadTraining(plan, log);
        int lanes = s.LanesFor(count);
        using var backends = s.OpenLaneBackends(lanes);
        var nets = new Network?[count];
        var members = new Member?[count];
        try
        {
            var shared = new Shared(plan, count, s.Resume, outDir, training, data, log);
            log.WriteLine($"{plan.Name}: {plan.Spec.Text}");
            log.WriteLine($"Ensemble of {count} networks (seeds {s.Seed}..{s.Seed + count - 1}) on {backends.Name}" +
                          (lanes > 1 ? $", {lanes} at a time" : "") + $"; {training.Count:N0} training images; {plan.Describe()}");

            var clock = Stopwatch.StartNew();
            // A member that fails (diverges, say) stops the other lanes at their next mini-batch rather than after
            // their whole training; Ctrl+C stops them all the same way.
            Lanes.Run(count, lanes, cancellation, (i, lane, token) =>
            {
                nets[i] = plan.Build(s.Seed + i, backends[lane]);
                members[i] = Train(nets[i]!, i, s.Seed + i, shared, token);
            });
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
        }
    }

    /// <summary>
    /// Trains member <paramref name="index"/> (or, with resume, reuses or continues it) and leaves the network holding its
    /// best-validation parameters. Null when cancelled.
    /// </summary>
    private static Member? Train(Network net, int index, int seed, Shared run, CancellationToken cancellation)
    {
        var (plan, log) = (run.Plan, run.Log);
        string name = $"network {index + 1}/{run.Count} (seed {seed})";
        string? memberDir = run.OutDir is null ? null : Path.Combine(run.OutDir, $"seed-{seed}");
        string? record = memberDir is null ? null : Path.Combine(memberDir, MemberFile);
        string? bestFile = memberDir is null ? null : Path.Combine(memberDir, TrainingSession.BestModelFile);
        bool continued = false;
        if (memberDir is not null)
        {
            Directory.CreateDirectory(memberDir);
            if (run.Resume && File.Exists(record))
            {
                var saved = ReadMember(record!, seed, run.Setup);
                if (saved.Done && saved.Epochs == plan.Epochs)
                {
                    string sha = LoadInto(net, bestFile!, plan);
                    if (sha != saved.BestModelSha256)
                        throw new FormatException($"{bestFile}: its data checksum {sha} is not the {saved.BestModelSha256} that {record} recorded; delete {memberDir} to train this member again.");
                    log.WriteLine($"{name}: reused from {memberDir} (best validation {saved.BestValidationAccuracy * 100:F2}% at epoch {saved.BestEpoch}, test {saved.TestAccuracy * 100:F2}%)");
                    return saved with { Source = "reused" };
                }
                if (saved.Done && saved.Epochs > plan.Epochs)
                    throw new FormatException($"{record}: the member was trained for {saved.Epochs} epochs, this ensemble asks for {plan.Epochs}; use another --out folder.");
                continued = File.Exists(Path.Combine(memberDir, TrainingSession.CheckpointFile));
            }
            // The record says what is being trained before anything else is written, so a stale one never survives.
            WriteMember(record!, new Member(seed, run.Setup, plan.Epochs));
        }

        var session = new TrainingSession(net, plan.Spec, plan.Options(seed, run.Training.Count, memberDir), run.Training, run.Data.Validation, run.Data.Test);
        if (continued)
        {
            session.Resume(memberDir!);
            log.WriteLine($"{name}: continuing from {Path.Combine(memberDir!, TrainingSession.CheckpointFile)}");
        }
        session.OnEpoch = r => log.WriteLine($"{name} {TrainingPlan.EpochLine(r)}");
        var result = session.Run(cancellation);
        if (result.StopReason == StopReason.Cancelled) return null;
        // The best-validation parameters: from best.safetensors when there is an output folder (it also holds the best
        // of the epochs before a resume), else from the session.
        string? bestSha = bestFile is not null && File.Exists(bestFile) ? LoadInto(net, bestFile, plan) : null;
        if (bestSha is null && result.BestParameters is { } best) net.ImportParameters(best);
        double accuracy = result.TestAccuracyAtBest ?? TestAccuracy(net, run.Data.Test);
        var member = new Member(seed, run.Setup, plan.Epochs, Done: true, result.BestEpoch, result.BestValidationAccuracy, accuracy, result.Seconds,
            result.StopReason.ToString(), bestSha, continued ? "continued" : "trained");
        if (record is not null) WriteMember(record, member);
        log.WriteLine($"{name}: best validation {member.BestValidationAccuracy * 100:F2}% at epoch {member.BestEpoch}, test {accuracy * 100:F2}%");
        return member;
    }

    /// <summary>Loads a saved best model into the member's network; returns the file's data checksum.</summary>
    private static string LoadInto(Network net, string path, TrainingPlan plan)
    {
        var contents = ModelFile.Read(path);
        if (contents.Spec.Text != plan.Spec.Text)
            throw new ModelFormatException(path, 8, $"architecture '{contents.Spec}' differs from the ensemble's '{plan.Spec}'.");
        ModelFile.Apply(path, net, contents, velocity: false);
        return contents.Metadata["sha256"];
    }

    private static Member ReadMember(string path, int seed, string setup)
    {
        Member? m;
        try { m = JsonSerializer.Deserialize<Member>(File.ReadAllText(path), MemberJson); }
        catch (JsonException e) { throw new FormatException($"{path}: not a member record ({e.Message}); delete it to train this member again."); }
        if (m is null || m.Seed != seed)
            throw new FormatException($"{path}: records seed {m?.Seed.ToString() ?? "nothing"}, expected {seed}; delete it to train this member again.");
        if (m.Setup != setup)
            throw new FormatException($"{path}: the member was trained as '{m.Setup}', this ensemble is '{setup}'; use another --out folder.");
        return m;
    }

    /// <summary>Writes the record through a temporary file, so a crash leaves the old record or the new one, never half of one.</summary>
    private static void WriteMember(string path, Member member)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(member, MemberJson));
        File.Move(tmp, path, overwrite: true);
    }

    private static double TestAccuracy(Network net, NativeNet.LabeledImages test)
    {
        using var single = new Ensemble([net]);
        return single.Evaluate(test);
    }
}
