using NativeNet.Core.Backends;
using NativeNet.Onnx;
using NativeNet.Persistence;

namespace NativeNet.Cli;

/// <summary>Model paths the commands accept: NativeNet's .safetensors files, or ONNX models (.onnx), imported on the fly.</summary>
internal static class ModelFiles
{
    public static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>Loads a model file into a network on <paramref name="backend"/>; an .onnx path goes through <see cref="OnnxImporter"/>.</summary>
    public static Network Load(string path, IComputeBackend backend) => IsOnnx(path) ? OnnxImporter.Import(path, backend) : ModelFile.Load(path, backend);
}
