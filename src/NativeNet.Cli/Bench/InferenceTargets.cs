using Microsoft.ML.OnnxRuntime;
using NativeNet.Onnx;

namespace NativeNet.Cli.Bench;

/// <summary>Something `bench infer` times: one image at a time, or a batch of images [count x features] at once.</summary>
internal interface IInferenceTarget : IDisposable
{
    string Name { get; }
    void PredictOne(ReadOnlySpan<float> image, Span<float> output);
    void PredictBatch(ReadOnlySpan<float> images, Span<float> outputs);
}

/// <summary>NativeNet's own <see cref="Network.Predict"/> and <see cref="Network.PredictBatch"/>.</summary>
internal sealed class NativeNetTarget(Network net) : IInferenceTarget
{
    public string Name => "NativeNet";
    public void PredictOne(ReadOnlySpan<float> image, Span<float> output) => net.Predict(image, output);
    public void PredictBatch(ReadOnlySpan<float> images, Span<float> outputs) => net.PredictBatch(images, outputs);
    public void Dispose() { }
}

/// <summary>
/// The same network exported by <see cref="OnnxExporter"/> and run by ONNX Runtime's C# API in this process: CPU
/// provider, all graph optimizations, sequential execution with <c>threads</c> intra-op threads. Each batch size gets
/// input and output buffers wrapped once as OrtValues, so a call copies the images in and runs, as Predict uploads and runs.
/// </summary>
internal sealed class OnnxRuntimeTarget : IInferenceTarget
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _options;
    private readonly RunOptions _run = new();
    private readonly Network _net;
    private readonly Dictionary<int, (float[] In, float[] Out, OrtValue[] InValue, OrtValue[] OutValue)> _buffers = [];
    private readonly string[] _inputNames = [OnnxExporter.InputName], _outputNames = [OnnxExporter.OutputName];

    public OnnxRuntimeTarget(Network net, int threads)
    {
        _net = net;
        _options = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(OnnxExporter.ToBytes(net), _options);
    }

    public string Name => "ONNX Runtime " + OrtEnv.Instance().GetVersionString();

    public void PredictOne(ReadOnlySpan<float> image, Span<float> output) => Run(1, image, output);

    public void PredictBatch(ReadOnlySpan<float> images, Span<float> outputs) => Run(images.Length / _net.InputSize, images, outputs);

    private void Run(int count, ReadOnlySpan<float> images, Span<float> outputs)
    {
        if (!_buffers.TryGetValue(count, out var b))
        {
            var input = new float[count * _net.InputSize];
            var output = new float[count * _net.OutputSize];
            b = (input, output, [OrtValue.CreateTensorValueFromMemory(input, OnnxExporter.InputShape(_net, count))],
                [OrtValue.CreateTensorValueFromMemory(output, [count, _net.OutputSize])]);
            _buffers[count] = b;
        }
        images.CopyTo(b.In);
        _session.Run(_run, _inputNames, b.InValue, _outputNames, b.OutValue);
        b.Out.CopyTo(outputs);
    }

    public void Dispose()
    {
        foreach (var b in _buffers.Values) { b.InValue[0].Dispose(); b.OutValue[0].Dispose(); }
        _session.Dispose();
        _run.Dispose();
        _options.Dispose();
    }
}
