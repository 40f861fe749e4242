using NativeNet.Core.Backends;

namespace NativeNet.Layers;

internal static class Init
{
    /// <summary>Draws N(0, std^2) values with the Box-Muller transform from a seeded <see cref="Random"/> (reproducible across platforms).</summary>
    public static void Gaussian(Span<float> dst, double std, Random rng)
    {
        for (int i = 0; i < dst.Length; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1)) * std;
            dst[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < dst.Length) dst[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
        }
    }

    /// <summary>Initializes every parameter of a layer by the rule; softmax layers under <see cref="WeightInit.Chapter6"/> start at zero.</summary>
    public static void Parameters(IComputeBackend backend, IReadOnlyList<Parameter> parameters, WeightInit rule, Random rng, bool zeroForChapter6 = false)
    {
        foreach (var p in parameters)
        {
            var host = new float[p.Value.Length];
            if (!(rule == WeightInit.Chapter6 && zeroForChapter6))
            {
                double std = !p.IsWeight ? 1.0 : rule switch
                {
                    WeightInit.StandardNormal => 1.0,
                    WeightInit.ScaledByFanIn => 1.0 / Math.Sqrt(p.FanIn),
                    _ => 1.0 / Math.Sqrt(p.FanOut),
                };
                Gaussian(host, std, rng);
            }
            backend.Upload(host, p.Value);
            if (p.Gradient.IsBound) backend.Fill(p.Gradient, 0f, p.Gradient.Length);   // else zero when it gets storage
            if (p.Velocity is not null) backend.Fill(p.Velocity, 0f, p.Velocity.Length);
        }
    }
}
