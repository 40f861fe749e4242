using BenchmarkDotNet.Attributes;
using NativeNet.Core.Backends;
using NativeNet.Training;

namespace NativeNet.Benchmarks;

/// <summary>One SGD step (forward, backward, update) of a preset at its batch size, and single-image inference. Random data: speed does not depend on the values.</summary>
[MemoryDiagnoser]
public class TrainingBenchmarks
{
    private Network _net = null!;
    private SgdTrainer _trainer = null!;
    private float[] _x = null!, _one = null!, _out = null!;
    private byte[] _labels = null!;

    [Params("ch1", "ch6-relu")]
    public string Preset { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var p = Presets.Get(Preset);
        _net = p.Spec.Build(1, p.Init, new CpuBackend());
        _trainer = new SgdTrainer(_net, p.Sgd(50_000, 1));
        var rng = new Random(2);
        _x = Enumerable.Range(0, p.BatchSize * 784).Select(_ => (float)rng.NextDouble()).ToArray();
        _labels = Enumerable.Range(0, p.BatchSize).Select(_ => (byte)rng.Next(10)).ToArray();
        _one = _x[..784];
        _out = new float[10];
    }

    [Benchmark]
    public void TrainStep() => _trainer.Step(_x, _labels);

    [Benchmark]
    public void PredictOne() => _net.Predict(_one, _out);

    [GlobalCleanup]
    public void Cleanup() { _trainer.Dispose(); _net.Dispose(); }
}
