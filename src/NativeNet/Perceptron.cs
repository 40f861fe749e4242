namespace NativeNet;

/// <summary>
/// The book's first neuron: output 1 when w . x + b &gt; 0, else 0. <see cref="Nand"/> is its example gate
/// (weights -2, -2, bias 3).
/// </summary>
public sealed class Perceptron(float[] weights, float bias)
{
    public IReadOnlyList<float> Weights { get; } = (float[])weights.Clone();
    public float Bias { get; } = bias;

    public static Perceptron Nand() => new([-2f, -2f], 3f);

    public int Fire(ReadOnlySpan<float> inputs)
    {
        if (inputs.Length != Weights.Count) throw new ArgumentException($"A perceptron with {Weights.Count} inputs got {inputs.Length}.", nameof(inputs));
        float z = Bias;
        for (int i = 0; i < inputs.Length; i++) z += Weights[i] * inputs[i];
        return z > 0 ? 1 : 0;
    }
}
