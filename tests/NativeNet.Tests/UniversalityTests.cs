namespace NativeNet.Tests;

public class UniversalityTests
{
    private static double F(double x) => Universality.ExampleFunction(x);

    [Fact]
    public void ExampleFunction_IsTheChaptersFunction()
    {
        Assert.Equal(0.25, F(0), 12);
        Assert.Equal(0.2 + 0.4 * 0.25 + 0.3 * 0.5 * Math.Sin(7.5) + 0.05 * Math.Cos(25), F(0.5), 12);
    }

    [Fact]
    public void Construction_ErrorFallsAsNeuronsGrow()
    {
        double previous = double.PositiveInfinity;
        foreach (int n in new[] { 5, 10, 50, 200, 1000 })
        {
            using var net = Universality.Construct(F, n);
            Assert.Equal(n, net.Layers[0].Output.Size);
            double error = Universality.MaxError(net, F);
            Assert.True(error < previous, $"N = {n}: max error {error}, not below {previous}");
            previous = error;
        }
        Assert.True(previous < 0.02, $"1000 neurons: max error {previous}");
    }

    /// <summary>The middle of f's range over [a, b], from 10,001 samples.</summary>
    private static double MidRange(double a, double b)
    {
        var values = Enumerable.Range(0, 10_001).Select(i => F(a + (b - a) * i / 10_000)).ToArray();
        return (values.Min() + values.Max()) / 2;
    }

    [Fact]
    public void Construction_IsPairsOfStepsWithHeightsOfTheFunction()
    {
        // 4 neurons: bumps [0, 1/2] and [1/2, 1] with heights the middle of f's range on each; 3 neurons drop the last step (beyond x = 1).
        double h0 = MidRange(0, 0.5), h1 = MidRange(0.5, 1);
        using var four = Universality.Construct(F, 4);
        var p = four.ExportParameters();
        float[] expected = [(float)h0, -(float)h0, (float)h1, -(float)h1];
        for (int j = 0; j < 4; j++) Assert.Equal(expected[j], p[2][j], 2e-3);
        Assert.Equal(0f, p[3][0]);
        for (int j = 0; j < 4; j++) Assert.Equal(2000f, p[0][j]);   // 1000 per bump x 2 bumps
        Assert.Equal(10f, p[1][0], 2);       // the step at x = 0, moved out by 10 / w
        Assert.Equal(-1000f, p[1][1], 2);   // the steps at x = 1/2
        Assert.Equal(-1000f, p[1][2], 2);
        using var three = Universality.Construct(F, 3);
        var q = three.ExportParameters();
        Assert.Equal(3, q[2].Length);
        Assert.Equal(p[2][..3], q[2]);
        // Inside a bump, away from its edges, the output is the bump's height.
        Assert.Equal(p[2][0], Universality.Sample(four, 5).Y[1], 4);
        Assert.Equal(p[2][2], Universality.Sample(three, 5).Y[3], 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => Universality.Construct(F, 0));
    }

    [Fact]
    public void Training_FitsTheFunctionBetterThanTheInitialNetwork()
    {
        var options = new UniversalityTraining { Epochs = 300, Seed = 2 };
        using var untrained = Universality.Train(F, 20, options with { Epochs = 1, LearningRate = 1e-6f });
        using var trained = Universality.Train(F, 20, options);
        double before = Universality.MaxError(untrained, F), after = Universality.MaxError(trained, F);
        Assert.True(after < before / 2 && after < 0.3, $"max error before {before}, after {after}");
        Assert.Throws<ArgumentOutOfRangeException>(() => Universality.Train(F, 5, options with { Samples = 1 }));
    }
}
