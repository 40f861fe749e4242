using NativeNet.Core.Kernels;
using NativeNet.Data;
using NativeNet.Layers;
using NativeNet.Training;

namespace NativeNet.Tests;

public class EnsembleSearchTests
{
    /// <summary>A 2-input, 3-class linear network whose output is the constant <paramref name="scores"/> (zero weights).</summary>
    private static Network Constant(params float[] scores)
    {
        var net = NetworkBuilder.ForInput(2).Output(3, OutputCost.LinearQuadratic).Build();
        net.ImportParameters([new float[6], scores]);
        return net;
    }

    private static int Vote(params float[][] members)
    {
        using var e = new Ensemble(members.Select(Constant), ownsMembers: true);
        return e.Classify([0.3f, 0.7f]);
    }

    [Fact]
    public void Vote_MajorityWins_EvenAgainstALargerScoreSum()
    {
        // Two members say 0 weakly, one says 1 very strongly: the plurality (0) wins.
        Assert.Equal(0, Vote([0.4f, 0.3f, 0.3f], [0.4f, 0.3f, 0.3f], [0f, 10f, 0f]));
        Assert.Equal(2, Vote([0f, 0f, 1f]));
        Assert.Equal(1, Vote([0f, 1f, 0f], [0f, 2f, 1f], [1f, 0f, 0f]));
    }

    [Fact]
    public void Vote_TieBrokenByLargerSummedScore()
    {
        Assert.Equal(0, Vote([0.9f, 0.1f, 0f], [0f, 0.2f, 0.8f]));   // votes 0 and 2; sums 0.9 vs 0.8
        Assert.Equal(2, Vote([0.6f, 0.4f, 0f], [0f, 0.1f, 0.9f]));   // votes 0 and 2; sums 0.6 vs 0.9
        // Class 1 has the largest sum but no vote: it cannot win. 0 and 2 tie on votes and sums: the smaller index wins.
        Assert.Equal(0, Vote([0.5f, 0.45f, 0f], [0f, 0.45f, 0.5f]));
    }

    [Fact]
    public void Ensemble_ClassifyAllMatchesClassify_AndAllocatesNothingAfterWarmUp()
    {
        using var e = new Ensemble([Constant(0.9f, 0.1f, 0f), Constant(0f, 0.2f, 0.8f), Constant(0f, 0.3f, 0.7f)], ownsMembers: true);
        var data = new LabeledImages([0.1f, 0.2f, 0.5f, 0.5f, 0.9f, 0f], [2, 0, 1], rows: 1, cols: 2);
        Assert.Equal(new[] { 2, 2, 2 }, e.ClassifyAll(data));
        Assert.Equal(1.0 / 3, e.Evaluate(data), 6);
        float[] x = [0.5f, 0.5f];
        Assert.Equal(2, e.Classify(x));
        int sum = 0;
        SteadyState.AssertAllocatesNothing(() => { sum = 0; for (int i = 0; i < 200; i++) sum += e.Classify(x); });
        Assert.Equal(400, sum);
    }

    [Fact]
    public void Ensemble_RejectsMismatchedMembers()
    {
        using var a = Constant(1f, 0f, 0f);
        using var b = NetworkBuilder.ForInput(2).Output(4, OutputCost.LinearQuadratic).Build();
        Assert.Throws<ArgumentException>(() => new Ensemble([a, b]));
        Assert.Throws<ArgumentException>(() => new Ensemble(Array.Empty<Network>()));
    }

    /// <summary>4 classes of 4x4 images: class c lights row c (some pixels dropped) over heavy noise.</summary>
    private static LabeledImages Synthetic(int count, int seed, double noise = 0.6)
    {
        var rng = new Random(seed);
        var pixels = new float[count * 16];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            int c = rng.Next(4);
            labels[i] = (byte)c;
            for (int p = 0; p < 16; p++) pixels[i * 16 + p] = (float)(rng.NextDouble() * noise);
            for (int x = 0; x < 4; x++) if (rng.NextDouble() < 0.75) pixels[i * 16 + c * 4 + x] += 0.5f;
        }
        return new LabeledImages(pixels, labels, 4, 4);
    }

    private static readonly NetworkSpec SmallSpec = NetworkSpec.Parse("input 16 | dense 6 sigmoid | output 4 softmax");

    [Fact]
    public void Ensemble_OfThreeTrainedNets_IsAtLeastAsAccurateAsTheWorstMember()
    {
        var train = Synthetic(400, 1);
        var test = Synthetic(1000, 2);
        var members = new List<Network>();
        try
        {
            for (int seed = 1; seed <= 3; seed++)
            {
                var net = SmallSpec.Build(seed, WeightInit.ScaledByFanIn);
                members.Add(net);
                var options = new TrainingOptions { Epochs = 3, Sgd = new SgdOptions { BatchSize = 10, LearningRate = 0.5f, TrainingSetSize = train.Count, Seed = (ulong)seed }, ShuffleSeed = seed };
                new TrainingSession(net, SmallSpec, options, train, null, null).Run();
            }
            using var ensemble = new Ensemble(members);
            var accuracies = members.Select(m =>
            {
                using var t = new SgdTrainer(m, new SgdOptions());
                return t.Evaluate(test.Pixels, test.Labels).Accuracy;
            }).ToArray();
            double vote = ensemble.Evaluate(test);
            Assert.True(accuracies.Min() > 0.3, string.Join(", ", accuracies));
            Assert.True(vote >= accuracies.Min(), $"ensemble {vote} vs members {string.Join(", ", accuracies)}");
            // The per-example path agrees with the batched one.
            var all = ensemble.ClassifyAll(test);
            for (int i = 0; i < 50; i++) Assert.Equal(all[i], ensemble.Classify(test.Image(i)));
        }
        finally
        {
            foreach (var m in members) m.Dispose();
        }
    }

    [Fact]
    public void GridSearch_FindsTheObviouslyBetterLearningRate()
    {
        var train = Synthetic(400, 3, noise: 0.4);
        var validation = Synthetic(200, 4, noise: 0.4);
        var search = new HyperparameterSearch(t => (SmallSpec.Build(1, WeightInit.ScaledByFanIn), SmallSpec),
            new TrainingOptions { Sgd = new SgdOptions() }, train, validation, epochsPerTrial: 3);
        var seen = new List<TrialResult>();
        search.OnTrial = seen.Add;
        var trials = HyperparameterSearch.Grid([1e-5f, 0.5f], [0f, 0.1f], [10]);
        Assert.Equal(4, trials.Count);
        var results = search.Run(trials);
        Assert.Equal(4, results.Count);
        Assert.Equal(4, seen.Count);
        Assert.Equal(0.5f, results[0].LearningRate);
        Assert.Equal(0.5f, results[1].LearningRate);
        Assert.True(results[0].BestValidationAccuracy > 0.8, results[0].ToString());
        Assert.True(results[0].BestValidationAccuracy > results[2].BestValidationAccuracy + 0.2);
        for (int i = 1; i < results.Count; i++) Assert.True(results[i - 1].BestValidationAccuracy >= results[i].BestValidationAccuracy);
        Assert.All(results, r => Assert.InRange(r.BestEpoch, 1, 3));
        Assert.All(results, r => Assert.True(r.Seconds > 0));
    }

    [Fact]
    public void GridSearch_TwoTrialsAtATime_GivesTheResultsOfOneAtATime()
    {
        var train = Synthetic(400, 3, noise: 0.4);
        var validation = Synthetic(200, 4, noise: 0.4);
        var trials = HyperparameterSearch.Grid([1e-5f, 0.1f, 0.5f], [0f, 0.1f], [10, 20]);
        var one = new HyperparameterSearch(t => (SmallSpec.Build(1, WeightInit.ScaledByFanIn), SmallSpec),
            new TrainingOptions { Sgd = new SgdOptions() }, train, validation, epochsPerTrial: 2).Run(trials);
        using var lane0 = new Core.Backends.CpuBackend(1);
        using var lane1 = new Core.Backends.CpuBackend(1);
        var lanesUsed = new int[2];
        var two = new HyperparameterSearch((t, lane) =>
            {
                Interlocked.Increment(ref lanesUsed[lane]);
                return (SmallSpec.Build(1, WeightInit.ScaledByFanIn, lane == 0 ? lane0 : lane1), SmallSpec);
            },
            new TrainingOptions { Sgd = new SgdOptions() }, train, validation, epochsPerTrial: 2) { Parallel = 2 };
        var seen = new List<TrialResult>();
        two.OnTrial = seen.Add;
        var results = two.Run(trials);
        Assert.Equal(one.Select(r => (r.Index, r.BestValidationAccuracy, r.BestEpoch)), results.Select(r => (r.Index, r.BestValidationAccuracy, r.BestEpoch)));
        Assert.Equal(trials.Count, seen.Count);
        Assert.Equal(trials.Count, lanesUsed.Sum());
        Assert.Throws<ArgumentOutOfRangeException>(() => new HyperparameterSearch((t, lane) => (SmallSpec.Build(1, WeightInit.ScaledByFanIn), SmallSpec),
            new TrainingOptions { Sgd = new SgdOptions() }, train, validation, epochsPerTrial: 1) { Parallel = 0 });
    }

    [Fact]
    public void Lanes_RunEveryItemOnce_AndAFailureStopsTheOthers()
    {
        var runs = new int[50];
        Lanes.Run(50, 3, CancellationToken.None, (i, lane, token) => { Interlocked.Increment(ref runs[i]); Assert.InRange(lane, 0, 2); });
        Assert.All(runs, r => Assert.Equal(1, r));
        Lanes.Run(0, 2, CancellationToken.None, (i, lane, token) => throw new InvalidOperationException("no items, no calls"));

        // Item 0 fails once item 1 has started; item 1 waits for its token, so it ends only because of the failure.
        bool sawCancel = false;
        int started = 0;
        using var secondStarted = new ManualResetEventSlim();
        var ex = Assert.Throws<InvalidOperationException>(() => Lanes.Run(10, 2, CancellationToken.None, (i, lane, token) =>
        {
            Interlocked.Increment(ref started);
            if (i == 0)
            {
                secondStarted.Wait(TimeSpan.FromSeconds(30));
                throw new InvalidOperationException("item 0 failed");
            }
            secondStarted.Set();
            sawCancel = token.WaitHandle.WaitOne(TimeSpan.FromSeconds(30));
        }));
        Assert.Equal("item 0 failed", ex.Message);
        Assert.True(sawCancel);
        Assert.Equal(2, started);   // no item starts after the failure
    }

    [Fact]
    public void RandomSearch_IsDeterministicForASeed_AndStaysInRange()
    {
        var a = HyperparameterSearch.Random(20, (0.01f, 1f), (0.001f, 10f), [10, 20, 50], seed: 42);
        var b = HyperparameterSearch.Random(20, (0.01f, 1f), (0.001f, 10f), [10, 20, 50], seed: 42);
        var c = HyperparameterSearch.Random(20, (0.01f, 1f), (0.001f, 10f), [10, 20, 50], seed: 43);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.All(a, t => Assert.InRange(t.LearningRate, 0.01f, 1f));
        Assert.All(a, t => Assert.InRange(t.L2, 0.001f, 10f));
        Assert.All(a, t => Assert.Contains(t.BatchSize, new[] { 10, 20, 50 }));
        // Log-uniform: about as many etas below 0.1 (the geometric middle) as above.
        var many = HyperparameterSearch.Random(2000, (0.01f, 1f), (0f, 0f), [10], seed: 1);
        int below = many.Count(t => t.LearningRate < 0.1f);
        Assert.InRange(below, 850, 1150);
        Assert.All(many, t => Assert.Equal(0f, t.L2));
        Assert.Throws<ArgumentException>(() => HyperparameterSearch.Random(3, (0f, 1f), (0f, 0f), [10], 1));
    }
}
