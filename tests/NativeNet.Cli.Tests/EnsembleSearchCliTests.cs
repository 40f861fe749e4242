using System.Text.Json;

namespace NativeNet.Cli.Tests;

public sealed class EnsembleSearchCliTests
{
    private const string Tiny = "input 784 | dense 20 sigmoid | output 10 softmax";

    [Fact]
    public void EnsembleReportsMembersAndVote()
    {
        string data = CliRunner.WriteTinyMnist(), outDir = CliRunner.TempDir();
        var r = CliRunner.Run("ensemble", "--layers", Tiny, "--count", "3", "--epochs", "2", "--seed", "4", "--threads", "1", "--data", data, "--out", outDir, "--json");
        Assert.True(r.ExitCode == 0, r.All);
        using var doc = JsonDocument.Parse(r.Stdout.Trim());
        var o = doc.RootElement;
        var members = o.GetProperty("members").EnumerateArray().ToList();
        Assert.Equal([4, 5, 6], members.Select(m => m.GetProperty("seed").GetInt32()));
        Assert.All(members, m => Assert.InRange(m.GetProperty("test_accuracy").GetDouble(), 0.0, 1.0));
        double vote = o.GetProperty("ensemble_test_accuracy").GetDouble();
        Assert.True(vote > 0.8, r.Stdout);
        Assert.True(vote >= members.Min(m => m.GetProperty("test_accuracy").GetDouble()) - 0.05, r.Stdout);
        Assert.True(File.Exists(Path.Combine(outDir, "ensemble.json")));
        Assert.True(File.Exists(Path.Combine(outDir, "seed-5", "best.safetensors")));

        // The first member is the network `train` makes with the same seed.
        string trainOut = CliRunner.TempDir();
        var t = CliRunner.Run("train", "--layers", Tiny, "--epochs", "2", "--seed", "4", "--threads", "1", "--data", data, "--out", trainOut, "--json", "--no-plots");
        Assert.True(t.ExitCode == 0, t.All);
        using var train = JsonDocument.Parse(t.Stdout.Trim());
        Assert.Equal(train.RootElement.GetProperty("test_accuracy").GetDouble(), members[0].GetProperty("test_accuracy").GetDouble());
        Assert.Empty(Directory.GetFiles(trainOut, "*.png"));
    }

    /// <summary>The members and the vote of an ensemble's --json output, without the timings.</summary>
    private static (string Members, double Vote) Outcome(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.All);
        using var doc = JsonDocument.Parse(r.Stdout.Trim());
        var members = doc.RootElement.GetProperty("members").EnumerateArray().Select(m =>
            $"{m.GetProperty("seed").GetInt32()}:{m.GetProperty("best_epoch").GetInt32()}:{m.GetProperty("best_validation_accuracy").GetDouble():R}:{m.GetProperty("test_accuracy").GetDouble():R}");
        return (string.Join(" ", members), doc.RootElement.GetProperty("ensemble_test_accuracy").GetDouble());
    }

    [Fact]
    public void EnsembleInParallel_AndResumed_GivesTheSameMembersAsOneAtATime()
    {
        string data = CliRunner.WriteTinyMnist();
        string[] common = ["ensemble", "--layers", Tiny, "--epochs", "2", "--seed", "7", "--data", data, "--json"];
        var oneAtATime = Outcome(CliRunner.Run([.. common, "--count", "3", "--threads", "2"]));   // each network on 2 threads
        var twoAtOnce = CliRunner.Run([.. common, "--count", "3", "--threads", "2", "--parallel", "2"]);
        Assert.Equal(oneAtATime, Outcome(twoAtOnce));
        Assert.Contains("2 at a time", twoAtOnce.Stderr);

        // An ensemble of 3 in a folder that holds 2 finished members trains only the third.
        string outDir = CliRunner.TempDir();
        Outcome(CliRunner.Run([.. common, "--count", "2", "--threads", "1", "--out", outDir]));
        Assert.True(File.Exists(Path.Combine(outDir, "seed-8", "member.json")));
        var resumed = CliRunner.Run([.. common, "--count", "3", "--threads", "1", "--out", outDir, "--resume"]);
        Assert.Equal(oneAtATime, Outcome(resumed));
        using var doc = JsonDocument.Parse(resumed.Stdout.Trim());
        Assert.Equal(["reused", "reused", "trained"], doc.RootElement.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("source").GetString()));
    }

    [Fact]
    public void EnsembleResume_ContinuesAnUnfinishedMemberFromItsCheckpoint()
    {
        string data = CliRunner.WriteTinyMnist(), outDir = CliRunner.TempDir();
        string[] common = ["ensemble", "--layers", Tiny, "--count", "1", "--seed", "3", "--threads", "1", "--data", data, "--json"];
        var straight = Outcome(CliRunner.Run([.. common, "--epochs", "3"]));

        // One epoch, then the same member asked for three: it goes on from its checkpoint.
        Outcome(CliRunner.Run([.. common, "--epochs", "1", "--out", outDir]));
        var continued = CliRunner.Run([.. common, "--epochs", "3", "--out", outDir, "--resume"]);
        Assert.Equal(straight, Outcome(continued));
        Assert.Contains("continuing from", continued.Stderr);
        Assert.DoesNotContain("epoch   1:", continued.Stderr);

        // As if stopped during its second epoch: the record says "not done", the checkpoint is the first epoch's.
        string record = Path.Combine(outDir, "seed-3", "member.json");
        Outcome(CliRunner.Run([.. common, "--epochs", "1", "--out", outDir]));
        string finished = File.ReadAllText(record);
        File.WriteAllText(record, finished.Replace("\"done\": true", "\"done\": false").Replace("\"epochs\": 1", "\"epochs\": 3"));
        Assert.Equal(straight, Outcome(CliRunner.Run([.. common, "--epochs", "3", "--out", outDir, "--resume"])));
    }

    [Fact]
    public void EnsembleResume_RefusesMembersOfAnotherSetup_OrADamagedModel()
    {
        string data = CliRunner.WriteTinyMnist(), outDir = CliRunner.TempDir();
        string[] common = ["ensemble", "--layers", Tiny, "--count", "1", "--seed", "5", "--threads", "1", "--data", data, "--out", outDir, "--json"];
        Outcome(CliRunner.Run([.. common, "--epochs", "2", "--train-size", "200"]));

        var otherData = CliRunner.Run([.. common, "--epochs", "2", "--train-size", "100", "--resume"]);
        Assert.NotEqual(0, otherData.ExitCode);
        Assert.Contains("200 training images", otherData.Stderr);
        Assert.Contains("100 training images", otherData.Stderr);

        var fewerEpochs = CliRunner.Run([.. common, "--epochs", "1", "--train-size", "200", "--resume"]);
        Assert.NotEqual(0, fewerEpochs.ExitCode);
        Assert.Contains("trained for 2 epochs", fewerEpochs.Stderr);

        // Another run's best model in the member's folder: its checksum is not the recorded one.
        string best = Path.Combine(outDir, "seed-5", "best.safetensors");
        string otherOut = CliRunner.TempDir();
        Outcome(CliRunner.Run(["ensemble", "--layers", Tiny, "--count", "1", "--seed", "6", "--threads", "1", "--data", data, "--out", otherOut, "--json", "--epochs", "2", "--train-size", "200"]));
        File.Copy(Path.Combine(otherOut, "seed-6", "best.safetensors"), best, overwrite: true);
        var swapped = CliRunner.Run([.. common, "--epochs", "2", "--train-size", "200", "--resume"]);
        Assert.NotEqual(0, swapped.ExitCode);
        Assert.Contains("checksum", swapped.Stderr);
        Assert.DoesNotContain("   at ", swapped.All);
    }

    [Fact]
    public void EnsembleResume_RejectsAMemberRecordOfAnotherSeed()
    {
        string data = CliRunner.WriteTinyMnist(), outDir = CliRunner.TempDir();
        string[] common = ["ensemble", "--layers", Tiny, "--count", "1", "--epochs", "1", "--threads", "1", "--data", data, "--out", outDir, "--json"];
        Outcome(CliRunner.Run([.. common, "--seed", "2"]));
        File.Copy(Path.Combine(outDir, "seed-2", "member.json"), Path.Combine(Directory.CreateDirectory(Path.Combine(outDir, "seed-9")).FullName, "member.json"));
        var r = CliRunner.Run([.. common, "--seed", "9", "--resume"]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("expected 9", r.Stderr);
        Assert.DoesNotContain("   at ", r.All);
    }

    [Fact]
    public void EnsemblePreset_TrainsItsFiveNetworks()
    {
        var r = CliRunner.Run("ensemble", "--preset", "ch6-ensemble", "--train-size", "10", "--epochs", "1", "--threads", "2", "--parallel", "2",
            "--data", CliRunner.WriteTinyMnist(), "--json");
        Assert.True(r.ExitCode == 0, r.All);
        using var doc = JsonDocument.Parse(r.Stdout.Trim());
        Assert.Equal("ch6-ensemble", doc.RootElement.GetProperty("preset").GetString());
        Assert.Equal([1, 2, 3, 4, 5], doc.RootElement.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("seed").GetInt32()));
        Assert.Equal(50, doc.RootElement.GetProperty("training_images").GetInt32());   // 10 images, shift-expanded
    }

    [Theory]
    [InlineData("--resume needs --out", "--resume")]
    [InlineData("needs --device cpu", "--parallel", "2", "--device", "opencl")]
    [InlineData("--parallel must be at least 1", "--parallel", "0")]
    public void BadEnsembleAndSearchOptionsNameTheProblem(string expected, params string[] options)
    {
        // search shares --parallel and its checks; --resume is the ensemble's own
        foreach (string command in options[0] == "--resume" ? ["ensemble"] : new[] { "ensemble", "search" })
        {
            var r = CliRunner.Run([command, .. options, "--data", CliRunner.WriteTinyMnist()]);
            Assert.NotEqual(0, r.ExitCode);
            Assert.DoesNotContain("   at ", r.All);
            Assert.Contains(expected, Assert.Single(r.Stderr.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void EnsembleTablePrints()
    {
        var r = CliRunner.Run("ensemble", "--layers", Tiny, "--count", "2", "--epochs", "1", "--threads", "1", "--data", CliRunner.WriteTinyMnist());
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("vote", r.Stdout);
        Assert.Contains("Ensemble of 2", r.Stdout);
    }

    [Fact]
    public void SearchInParallel_RanksTheSameTrials()
    {
        string data = CliRunner.WriteTinyMnist();
        string[] common = ["search", "--layers", Tiny, "--eta", "0.00001,0.1,0.5", "--lambda", "0,0.1", "--epochs", "2", "--data", data, "--json"];
        static string Ranking(CliRunner.Result r)
        {
            Assert.True(r.ExitCode == 0, r.All);
            using var doc = JsonDocument.Parse(r.Stdout.Trim());
            return string.Join(" ", doc.RootElement.GetProperty("trials").EnumerateArray().Select(t =>
                $"{t.GetProperty("trial").GetInt32()}:{t.GetProperty("best_validation_accuracy").GetDouble():R}:{t.GetProperty("best_epoch").GetInt32()}"));
        }
        var parallel = CliRunner.Run([.. common, "--threads", "2", "--parallel", "2"]);
        Assert.Equal(Ranking(CliRunner.Run([.. common, "--threads", "1"])), Ranking(parallel));
        Assert.Contains("2 at a time", parallel.Stderr);
    }

    [Fact]
    public void GridSearchRanksTheGoodLearningRateFirstAndWritesSearchJson()
    {
        string data = CliRunner.WriteTinyMnist(), outDir = CliRunner.TempDir();
        var r = CliRunner.Run("search", "--layers", Tiny, "--eta", "0.00001,0.5", "--lambda", "0,0.1", "--batch", "10", "--epochs", "2",
            "--threads", "1", "--data", data, "--out", outDir, "--json");
        Assert.True(r.ExitCode == 0, r.All);
        using var doc = JsonDocument.Parse(r.Stdout.Trim());
        var trials = doc.RootElement.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal(4, trials.Count);
        Assert.Equal(0.5, trials[0].GetProperty("eta").GetDouble(), 5);
        Assert.Equal(0.5, trials[1].GetProperty("eta").GetDouble(), 5);
        Assert.True(trials[0].GetProperty("best_validation_accuracy").GetDouble() > trials[3].GetProperty("best_validation_accuracy").GetDouble());
        using var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "search.json")));
        Assert.Equal(4, saved.RootElement.GetProperty("trials").GetArrayLength());

        var table = CliRunner.Run("search", "--layers", Tiny, "--eta", "0.5", "--batch", "10,20", "--threads", "1", "--data", data);
        Assert.True(table.ExitCode == 0, table.All);
        Assert.Contains("best validation", table.Stdout);
        Assert.Contains("Best: eta 0.5", table.Stdout);
    }

    [Fact]
    public void RandomSearchRepeatsForASeed()
    {
        string data = CliRunner.WriteTinyMnist();
        string[] args = ["search", "--layers", Tiny, "--random", "3", "--eta-range", "0.05:1", "--lambda-range", "0.01:1", "--batch", "10,20",
            "--seed", "9", "--threads", "1", "--data", data, "--json"];
        static List<string> Trials(CliRunner.Result r)
        {
            Assert.True(r.ExitCode == 0, r.All);
            using var doc = JsonDocument.Parse(r.Stdout.Trim());
            return doc.RootElement.GetProperty("trials").EnumerateArray()
                .Select(t => $"{t.GetProperty("trial").GetInt32()} {t.GetProperty("eta").GetDouble()} {t.GetProperty("lambda").GetDouble()} {t.GetProperty("batch").GetInt32()} {t.GetProperty("best_validation_accuracy").GetDouble()}")
                .ToList();
        }
        var a = Trials(CliRunner.Run(args));
        var b = Trials(CliRunner.Run(args));
        Assert.Equal(3, a.Count);
        Assert.Equal(a, b);
    }

    [Fact]
    public void BadSearchOptionsFailCleanly()
    {
        foreach (var args in new[]
        {
            new[] { "search", "--eta", "0.1,abc" },
            new[] { "search", "--random", "2", "--eta-range", "1" },
            new[] { "search", "--eta-range", "0.1:1" },
            new[] { "ensemble", "--count", "0" },
        })
        {
            var r = CliRunner.Run(args);
            Assert.NotEqual(0, r.ExitCode);
            Assert.DoesNotContain("   at ", r.All);
            Assert.Single(r.Stderr.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        }
    }
}
