namespace NativeNet;

/// <summary>
/// The book's first neuron: output 1 when w . x + b &gt; 0, else 0. <see cref="Nand"/> is its example gate
/// (weights -2, -2, bias 3).
/// </summary>
/// <param name="weights">One weight per input (copied).</param>
/// <param name="bias">The bias b.</param>
public sealed class Perceptron(float[] weights, float bias)
{
    /// <summary>One weight per input.</summary>
    public IReadOnlyList<float> Weights { get; } = (float[])weights.Clone();
    /// <summary>The bias b.</summary>
    public float Bias { get; } = bias;

    /// <summary>The book's NAND gate: weights -2, -2 and bias 3, so only inputs (1, 1) give 0.</summary>
    public static Perceptron Nand() => new([-2f, -2f], 3f);

    /// <summary>1 when w . x + b &gt; 0, else 0.</summary>
    /// <param name="inputs">One value per weight.</param>
    /// <exception cref="ArgumentException"><paramref name="inputs"/> has not one value per weight.</exception>
    public int Fire(ReadOnlySpan<float> inputs)
    {
        if (inputs.Length != Weights.Count) throw new ArgumentException($"A perceptron with {Weights.Count} inputs got {inputs.Length}.", nameof(inputs));
        float z = Bias;
        for (int i = 0; i < inputs.Length; i++) z += Weights[i] * inputs[i];
        return z > 0 ? 1 : 0;
    }
}
