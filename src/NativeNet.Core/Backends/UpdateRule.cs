namespace NativeNet.Core.Backends;

/// <summary>
/// One gradient-descent step for a parameter tensor. With g = grad * GradientScale + L2 * w + L1 * sign(w):
/// plain SGD w -= eta g; momentum v = mu v - eta g, w += v; Nesterov v' = mu v - eta g, w += -mu v + (1 + mu) v'.
/// With GradientScale = 1/m and L2 = lambda/n this is the book's w &lt;- (1 - eta lambda / n) w - (eta / m) sum grad.
/// </summary>
/// <param name="LearningRate">eta, the step size.</param>
/// <param name="GradientScale">The factor on the summed gradient (1 / batch size for a mean).</param>
/// <param name="L2">The coefficient of w in g (lambda / n for the book's L2 regularization; 0 for none).</param>
/// <param name="L1">The coefficient of sign(w) in g (0 for none).</param>
/// <param name="Momentum">mu, the velocity's decay (0: plain SGD, no velocity).</param>
/// <param name="Nesterov">Nesterov's accelerated form of momentum.</param>
public readonly record struct UpdateRule(float LearningRate, float GradientScale, float L2 = 0f, float L1 = 0f, float Momentum = 0f, bool Nesterov = false)
{
    /// <summary>Whether the step reads and writes a velocity tensor (Momentum is not 0).</summary>
    public bool UsesVelocity => Momentum != 0f;
}
