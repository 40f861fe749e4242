namespace NativeNet;

// The words a user of NativeNet types when describing a network. They live in the Core assembly, because the backend
// contract's kernels take them, and in the NativeNet namespace, so an app needs no engine namespace to name them.

/// <summary>The neuron nonlinearities. Every derivative is expressed through the output a = f(z), so backward passes need no stored z.</summary>
public enum Activation
{
    /// <summary>f(z) = z (linear output units).</summary>
    Identity,
    /// <summary>f(z) = 1 / (1 + e^-z); f' = a (1 - a).</summary>
    Sigmoid,
    /// <summary>f(z) = tanh z; f' = 1 - a^2.</summary>
    Tanh,
    /// <summary>f(z) = max(0, z); f' = 1 where a > 0, else 0 (the kink at 0 takes the left derivative).</summary>
    ReLU,
}

/// <summary>The pairings of output activation and cost whose error delta = dC/dz has a closed form.</summary>
public enum OutputCost
{
    /// <summary>Sigmoid output, quadratic cost C = 1/2 ||a - y||^2: delta = (a - y) a (1 - a).</summary>
    SigmoidQuadratic,
    /// <summary>Sigmoid output, cross-entropy C = -sum[y ln a + (1 - y) ln(1 - a)]: delta = a - y.</summary>
    SigmoidCrossEntropy,
    /// <summary>Softmax output, log-likelihood C = -ln a_y: delta = a - y.</summary>
    SoftmaxLogLikelihood,
    /// <summary>Linear output, quadratic cost: delta = a - y.</summary>
    LinearQuadratic,
}

/// <summary>Pooling of each window to one value.</summary>
public enum PoolKind
{
    /// <summary>The largest input in the window (its position is kept for the backward pass).</summary>
    Max,
    /// <summary>The mean of the window.</summary>
    Average,
    /// <summary>The square root of the sum of squares in the window (the book's L2 pooling).</summary>
    L2,
}
