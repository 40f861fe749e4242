namespace NativeNet;

/// <summary>How a layer's weights and biases start.</summary>
public enum WeightInit
{
    /// <summary>Weights and biases N(0, 1): the book's first networks (chapter 1, and "large" init in chapter 3).</summary>
    StandardNormal,
    /// <summary>Weights N(0, 1/n_in), biases N(0, 1): the book's improved default (chapter 3).</summary>
    ScaledByFanIn,
    /// <summary>Chapter 6's network3: weights N(0, 1/n_out) (a conv layer's n_out is maps * kernel area / pool area), biases N(0, 1); softmax layers start at zero.</summary>
    Chapter6,
}
