using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;
using NativeNet.Layers;
using NativeNet.Training;

namespace NativeNet;

/// <summary>How <see cref="Universality.Train"/> fits a [1, N, 1] network to samples of a function.</summary>
public sealed record UniversalityTraining
{
    /// <summary>Evenly spaced samples of [0, 1] to train on. Default 200.</summary>
    public int Samples { get; init; } = 200;

    /// <summary>Passes over the samples. Default 3000.</summary>
    public int Epochs { get; init; } = 3000;

    /// <summary>Mini-batch size. Default 10.</summary>
    public int BatchSize { get; init; } = 10;

    /// <summary>Learning rate at the start; it decays linearly to 0 over the epochs. Default 0.1.</summary>
    public float LearningRate { get; init; } = 0.1f;

    /// <summary>Momentum coefficient. Default 0.9.</summary>
    public float Momentum { get; init; } = 0.9f;

    /// <summary>Seeds the initial weights and the shuffles. Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (Samples < 2) throw new ArgumentOutOfRangeException(nameof(Samples), Samples, "Training needs at least two samples.");
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Training needs at least one epoch.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "The mini-batch size must be at least 1.");
    }
}

/// <summary>
/// Chapter 4's visual proof that one hidden layer of sigmoid neurons can approximate any continuous function of one
/// variable on [0, 1]. A sigmoid with a large weight w and bias -w s is nearly a step at x = s; a pair of such steps, at s
/// and t, with output weights +h and -h, is a bump of height h on [s, t]. Splitting [0, 1] into bumps whose heights are the
/// function's values at their centres gives a network whose (linear) output follows the function, the more closely the
/// more neurons. <see cref="Construct"/> builds that network; <see cref="Train"/> lets gradient descent find weights for
/// the same [1, N, 1] shape; <see cref="MaxError(Network, Func{double, double}, int)"/> measures either against the function.
/// </summary>
public static class Universality
{
    /// <summary>The chapter's example, f(x) = 0.2 + 0.4 x^2 + 0.3 x sin(15 x) + 0.05 cos(50 x), on [0, 1].</summary>
    /// <param name="x">The argument.</param>
    public static double ExampleFunction(double x) => 0.2 + 0.4 * x * x + 0.3 * x * Math.Sin(15 * x) + 0.05 * Math.Cos(50 * x);

    /// <summary>
    /// The bump construction with <paramref name="neurons"/> hidden neurons: ceil(N / 2) bumps of equal width over [0, 1],
    /// bump k's height the middle of f's range over it (so inside the bump the error is at most half that range), its left step at its left edge and its right step at its right edge, each step of
    /// steepness <paramref name="steepnessPerBump"/> x bumps (so the transition is a fixed fraction of a bump). The steps at
    /// 0 and 1 move outward by 10 / w, where the sigmoid is within 5e-5 of 0 or 1, so the ends of the domain get whole
    /// bumps; the last bump's right step then lies beyond the domain, and an odd N leaves it out. The output is linear
    /// (its bias 0), so the network computes sum_k h_k (sigma(w (x - s_k)) - sigma(w (x - t_k))).
    /// </summary>
    /// <param name="f">The function to approximate on [0, 1].</param>
    /// <param name="neurons">Hidden neurons N.</param>
    /// <param name="backend">Where the network runs; null for the CPU.</param>
    /// <param name="steepnessPerBump">The steps' weight w divided by the number of bumps.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="neurons"/> is below 1 or the steepness is not positive.</exception>
    public static Network Construct(Func<double, double> f, int neurons, IComputeBackend? backend = null, double steepnessPerBump = 1000)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (neurons < 1) throw new ArgumentOutOfRangeException(nameof(neurons), neurons, "The construction needs at least one hidden neuron.");
        if (!(steepnessPerBump > 0) || double.IsInfinity(steepnessPerBump)) throw new ArgumentOutOfRangeException(nameof(steepnessPerBump), steepnessPerBump, "The steepness must be a positive finite number.");
        int bumps = (neurons + 1) / 2;
        double w = steepnessPerBump * bumps, margin = 10 / w;
        var inWeights = new float[neurons];
        var inBiases = new float[neurons];
        var outWeights = new float[neurons];
        for (int k = 0; k < bumps; k++)
        {
            double left = (double)k / bumps, right = (k + 1.0) / bumps;
            double height = MidRange(f, left, right);
            if (k == 0) left -= margin;
            if (k == bumps - 1) right += margin;
            SetStep(2 * k, left, height);
            if (2 * k + 1 < neurons) SetStep(2 * k + 1, right, -height);
        }
        var net = NetworkBuilder.ForInput(1).Dense(neurons, Activation.Sigmoid).Output(1, OutputCost.LinearQuadratic).BuildUninitialized(backend);
        net.ImportParameters([inWeights, inBiases, outWeights, [0f]]);
        return net;

        // Neuron j: a step up at x = s (sigma(w x - w s)) whose output weight is h.
        void SetStep(int j, double s, double h)
        {
            inWeights[j] = (float)w;
            inBiases[j] = (float)(-w * s);
            outWeights[j] = (float)h;
        }
    }

    /// <summary>(min f + max f) / 2 over [<paramref name="left"/>, <paramref name="right"/>], from 65 evenly spaced samples.</summary>
    private static double MidRange(Func<double, double> f, double left, double right)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        for (int i = 0; i <= 64; i++)
        {
            double v = f(left + (right - left) * i / 64);
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        return (min + max) / 2;
    }

    /// <summary>
    /// A [1, <paramref name="neurons"/>, 1] network (sigmoid hidden layer, linear output, quadratic cost) trained by
    /// NativeNet's <see cref="SgdTrainer"/> on evenly spaced samples of f over [0, 1], with momentum and a learning rate
    /// that decays linearly to 0. It starts from <see cref="SpreadSteps"/>: from the usual N(0, 1/n_in) weights, which make
    /// every sigmoid nearly linear on [0, 1], gradient descent learns the smooth trend of the example function and then
    /// stalls at about the amplitude of its 0.05 cos(50 x) ripple, whatever N.
    /// </summary>
    /// <param name="f">The function to fit on [0, 1].</param>
    /// <param name="neurons">Hidden neurons N, at least 1.</param>
    /// <param name="options">Samples, epochs, batch, learning rate, momentum and seed; validated here.</param>
    /// <param name="backend">Where the network runs; null for the CPU.</param>
    /// <param name="cancel">Checked between epochs.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="neurons"/> is below 1 or an option is out of range.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was signalled.</exception>
    public static Network Train(Func<double, double> f, int neurons, UniversalityTraining options, IComputeBackend? backend = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(options);
        if (neurons < 1) throw new ArgumentOutOfRangeException(nameof(neurons), neurons, "The network needs at least one hidden neuron.");
        options.Validate();
        int n = options.Samples;
        var x = new float[n];
        var y = new float[n];
        for (int i = 0; i < n; i++) { x[i] = (float)i / (n - 1); y[i] = (float)f(x[i]); }
        var net = NetworkBuilder.ForInput(1).Dense(neurons, Activation.Sigmoid).Output(1, OutputCost.LinearQuadratic)
            .BuildUninitialized(backend, withMomentum: options.Momentum > 0);   // SpreadSteps sets every parameter
        try
        {
            SpreadSteps(net, neurons, y.Average(), options.Seed);
            using var trainer = new SgdTrainer(net, new SgdOptions
            {
                BatchSize = options.BatchSize, LearningRate = options.LearningRate, Momentum = options.Momentum, TrainingSetSize = n, MiniBatchSplit = 1,
            });
            var rng = new Random(options.Seed);
            var order = Enumerable.Range(0, n).ToArray();
            var bx = new float[options.BatchSize];
            var by = new float[options.BatchSize];
            for (int epoch = 0; epoch < options.Epochs; epoch++)
            {
                cancel.ThrowIfCancellationRequested();
                // Linear decay to 0: the last epochs settle instead of ending on a noisy step.
                trainer.LearningRate = options.LearningRate * (1 - (float)epoch / options.Epochs);
                rng.Shuffle(order);
                for (int start = 0; start < n; start += options.BatchSize)
                {
                    int m = Math.Min(options.BatchSize, n - start);
                    for (int i = 0; i < m; i++) { bx[i] = x[order[start + i]]; by[i] = y[order[start + i]]; }
                    trainer.Step(bx.AsSpan(0, m), by.AsSpan(0, m), m);
                }
            }
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The trained network's starting point: hidden neuron j a soft step at a random place s_j in [0, 1] (bias -w_j s_j),
    /// its weight w_j of random sign and size between N / 2 and 3 N / 2, so the more neurons the steeper and narrower their
    /// steps, as in the construction; output weights 0 and the output bias the mean of the samples. Training then moves
    /// every weight.
    /// </summary>
    private static void SpreadSteps(Network net, int neurons, double mean, int seed)
    {
        var rng = new Random(seed);
        var weights = new float[neurons];
        var biases = new float[neurons];
        for (int j = 0; j < neurons; j++)
        {
            double w = neurons * (0.5 + rng.NextDouble()) * (rng.Next(2) == 0 ? -1 : 1);
            weights[j] = (float)w;
            biases[j] = (float)(-w * rng.NextDouble());
        }
        net.ImportParameters([weights, biases, new float[neurons], [(float)mean]]);
    }

    /// <summary>The network's output at <paramref name="points"/> evenly spaced x in [0, 1].</summary>
    /// <param name="net">A network with one input and one output.</param>
    /// <param name="points">Sample points, at least 2 (both ends included).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="points"/> is below 2.</exception>
    public static (double[] X, double[] Y) Sample(Network net, int points)
    {
        ArgumentNullException.ThrowIfNull(net);
        if (points < 2) throw new ArgumentOutOfRangeException(nameof(points), points, "Sampling needs at least two points.");
        var xs = new double[points];
        var ys = new double[points];
        var output = new float[1];
        for (int i = 0; i < points; i++)
        {
            xs[i] = (double)i / (points - 1);
            net.Predict([(float)xs[i]], output);
            ys[i] = output[0];
        }
        return (xs, ys);
    }

    /// <summary>max |net(x) - f(x)| over <paramref name="points"/> evenly spaced x in [0, 1] (both ends included).</summary>
    /// <param name="net">A network with one input and one output.</param>
    /// <param name="f">The function it approximates.</param>
    /// <param name="points">Sample points, at least 2.</param>
    public static double MaxError(Network net, Func<double, double> f, int points = 2001)
    {
        ArgumentNullException.ThrowIfNull(f);
        var (xs, ys) = Sample(net, points);
        return MaxError(ys, xs.Select(f).ToArray());
    }

    /// <summary>The largest |ys[i] - target[i]|: a network's samples against the function's at the same points.</summary>
    internal static double MaxError(ReadOnlySpan<double> ys, ReadOnlySpan<double> target)
    {
        double max = 0;
        for (int i = 0; i < ys.Length; i++) max = Math.Max(max, Math.Abs(ys[i] - target[i]));
        return max;
    }
}
