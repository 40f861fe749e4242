namespace NativeNet.Core.Backends;

/// <summary>
/// One gradient-descent step for a parameter tensor. With g = grad * GradientScale + L2 * w + L1 * sign(w):
/// plain SGD w -= eta g; momentum v = mu v - eta g, w += v; Nesterov v' = mu v - eta g, w += -mu v + (1 + mu) v'.
/// With GradientScale = 1/m and L2 = lambda/n this is the book's w &lt;- (1 - eta lambda / n) w - (eta / m) sum grad.
/// </summary>
public readonly record struct UpdateRule(float LearningRate, float GradientScale, float L2 = 0f, float L1 = 0f, float Momentum = 0f, bool Nesterov = false)
{
    public bool UsesVelocity => Momentum != 0f;
}
