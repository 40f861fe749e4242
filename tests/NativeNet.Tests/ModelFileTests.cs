using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using NativeNet.Core.Kernels;
using NativeNet.Layers;
using NativeNet.Persistence;

namespace NativeNet.Tests;

public class ModelFileTests
{
    internal const string SmallArchitecture = "input 1x6x6 | conv 2 3 relu | maxpool 2 | dense 5 sigmoid | output 3 softmax";

    internal static Network Small(int seed = 3) => NetworkSpec.Parse(SmallArchitecture).Build(seed, WeightInit.ScaledByFanIn);

    internal static byte[] SmallModelBytes()
    {
        using var net = Small();
        var stream = new MemoryStream();
        ModelFile.Save(stream, net);
        return stream.ToArray();
    }

    private static float[] Input(int size, int salt = 0) => Enumerable.Range(0, size).Select(i => ((i * 7 + salt) % 13) / 13f).ToArray();

    private static float[] Outputs(Network net, float[] x)
    {
        var y = new float[net.OutputSize];
        net.Predict(x, y);
        return y;
    }

    private static ModelFormatException Refused(byte[] file, string source = "edited")
        => Assert.Throws<ModelFormatException>(() => ModelFile.Load(file, sourceName: source));

    [Fact]
    public void SaveLoad_RoundTripsEveryParameter_AndPredictions()
    {
        using var net = Small();
        using var temp = new TempDirectory();
        string path = temp.File("model.safetensors");
        ModelFile.Save(path, net);
        using var loaded = ModelFile.Load(path);
        Assert.Equal(net.ExportParameters(), loaded.ExportParameters());
        var x = Input(36);
        Assert.Equal(Outputs(net, x), Outputs(loaded, x));
        Assert.Equal(SmallArchitecture, loaded.Architecture.Text);
        // Plain safetensors; version 2 declares the convolution's weights [filters, channels, k, k].
        var (header, _) = ModelBytes.Split(File.ReadAllBytes(path));
        Assert.Equal("F32", (string?)header["layers.0.weight"]!["dtype"]);
        Assert.Equal([2, 1, 3, 3], header["layers.0.weight"]!["shape"]!.AsArray().Select(d => (int)d!));
        Assert.Equal([5, 2 * 2 * 2], header["layers.2.weight"]!["shape"]!.AsArray().Select(d => (int)d!));
        var meta = header["__metadata__"]!;
        Assert.Equal("2", (string?)meta["version"]);
        var layers = JsonNode.Parse((string)meta["layers"]!)!.AsArray();
        Assert.Equal(["conv", "maxpool", "dense", "output"], layers.Select(l => (string)l!["kind"]!));
        Assert.Equal("softmax", (string?)layers[3]!["activation"]);
        Assert.Equal([2, 2, 2], layers[2]!["input"]!.AsArray().Select(d => (int)d!));
        Assert.Contains("flattened", (string?)meta["layout"]);
    }

    [Fact]
    public void ANetworkFromTheBuilder_SavesWithoutASpec_AndLoadsToTheSameOutputs()
    {
        using var net = NetworkBuilder.ForImages(2, 9, 9)
            .Conv(3, 3, Activation.Tanh, stride: 2, padding: 1).Pool(PoolKind.L2, 2, stride: 1).Pool(PoolKind.Average, 2)
            .Dense(7, Activation.ReLU, dropout: 0.25f).Output(4, OutputCost.SigmoidCrossEntropy, dropout: 0.1f).Build(seed: 5);
        Assert.Equal("input 2x9x9 | conv 3 3 tanh stride=2 pad=1 | l2pool 2 stride=1 | avgpool 2 | dense 7 relu dropout=0.25 | output 4 sigmoid-ce dropout=0.1",
            net.Architecture.Text);
        using var temp = new TempDirectory();
        string path = temp.File("built.safetensors");
        ModelFile.Save(path, net);
        using var loaded = ModelFile.Load(path);
        var x = Input(net.InputSize, 3);
        Assert.Equal(Outputs(net, x), Outputs(loaded, x));
    }

    [Fact]
    public void Save_RefusesASpecThatDoesNotDescribeTheNetwork()
    {
        using var net = Small();
        using var temp = new TempDirectory();
        var other = NetworkSpec.Parse("input 1x6x6 | conv 3 3 relu | maxpool 2 | dense 5 sigmoid | output 3 softmax");
        Assert.Throws<ArgumentException>(() => ModelFile.Save(temp.File("m.safetensors"), net, other));
    }

    /// <summary>A stream that cannot seek or tell its length, as a network or a decompressor gives.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 1000));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public void Load_FromStreamsAndBytes_GivesTheSameNetwork_AndTheSameErrors()
    {
        using var net = Small();
        var bytes = SmallModelBytes();
        var x = Input(36);
        var expected = Outputs(net, x);
        using (var a = ModelFile.Load(bytes)) Assert.Equal(expected, Outputs(a, x));
        using (var b = ModelFile.Load(new MemoryStream(bytes))) Assert.Equal(expected, Outputs(b, x));
        using (var c = ModelFile.Load(new ForwardOnlyStream(bytes), sourceName: "socket")) Assert.Equal(expected, Outputs(c, x));
        // The stream's position is where the model starts.
        var prefixed = new MemoryStream([.. new byte[5], .. bytes]) { Position = 5 };
        using (var d = ModelFile.Load(prefixed)) Assert.Equal(expected, Outputs(d, x));

        // Truncated, oversized and not-a-model sources: the offset and what was expected, under the given name.
        var truncated = bytes.AsSpan(0, bytes.Length - 10).ToArray();
        var e1 = Assert.Throws<ModelFormatException>(() => ModelFile.Load(truncated, sourceName: "resource.safetensors"));
        Assert.Equal("resource.safetensors", e1.FilePath);
        Assert.Contains("truncated", e1.Message);
        Assert.Equal(truncated.Length, e1.Offset);
        var e2 = Assert.Throws<ModelFormatException>(() => ModelFile.Load(new ForwardOnlyStream(truncated), sourceName: "socket"));
        Assert.Equal("socket", e2.FilePath);
        Assert.Contains("truncated", e2.Message);
        var e3 = Assert.Throws<ModelFormatException>(() => ModelFile.Load([.. bytes, 1, 2, 3]));
        Assert.Contains("follow the last tensor", e3.Message);
        Assert.Equal(bytes.Length, e3.Offset);
        Assert.Throws<ModelFormatException>(() => ModelFile.Load(new ForwardOnlyStream([.. bytes, 0])));
        var e4 = Assert.Throws<ModelFormatException>(() => ModelFile.Load("GIF89a, certainly not a model"u8));
        Assert.StartsWith("in-memory model", e4.FilePath);
        Assert.Contains("header length", e4.Message);
        Assert.Throws<ModelFormatException>(() => ModelFile.Load(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void Version1Files_WithFlatConvolutionWeights_StillLoad()
    {
        using var net = Small();
        var names = ModelFile.ParameterNames(net);
        var values = net.ExportParameters();
        // Version 1 declared conv weights [filters, channels * k * k] and checksummed the data section only.
        var tensors = names.Select((n, i) => (n, net.Parameters[i].Value.Dims.ToArray(), values[i])).ToList();
        Assert.Equal([2, 9], tensors[0].Item2);
        using var temp = new TempDirectory();
        string path = temp.File("v1.safetensors");
        ModelFile.Write(path, tensors, new Dictionary<string, string> { ["format"] = "nativenet", ["version"] = "1", ["architecture"] = SmallArchitecture });
        using var loaded = ModelFile.Load(path);
        var x = Input(36);
        Assert.Equal(Outputs(net, x), Outputs(loaded, x));
        Assert.Equal(1, ModelFile.Read(path).Version);
        // A version-1 file must not declare version 2's shape, nor the reverse.
        var edited = ModelBytes.Edit(File.ReadAllBytes(path), h => h["layers.0.weight"]!["shape"] = new JsonArray(2, 1, 3, 3));
        Assert.Contains("needs [2, 9]", Refused(edited).Message);
    }

    [Theory]
    [InlineData("conv 2 3 relu", "conv 2 3 sigmoid")]     // activation
    [InlineData("dense 5 sigmoid", "dense 5 sigmoid dropout=0.5")]   // dropout
    [InlineData("output 3 softmax", "output 3 sigmoid-ce")]           // output kind
    public void HeaderEdits_ThatKeepEveryShape_AreDetected(string from, string to)
    {
        var bytes = SmallModelBytes();
        void Edit(JsonObject h) => h["__metadata__"]!["architecture"] = ((string)h["__metadata__"]!["architecture"]!).Replace(from, to);
        // Edited in place, the checksum (which covers the header) no longer matches.
        var (header, data) = ModelBytes.Split(bytes);
        Edit(header);
        var e = Refused(ModelBytes.Join(header, data, seal: false));
        Assert.Equal("__metadata__.sha256", e.Field);
        Assert.Contains("checksum", e.Message);
        // Re-sealed by someone who knows the rule, the layers description no longer matches the architecture.
        var resealed = Refused(ModelBytes.Edit(bytes, Edit));
        Assert.Equal("__metadata__.layers", resealed.Field);
    }

    [Theory]
    [InlineData("layers.2.weight", new[] { 8, 5 }, "[5, 8]")]     // transposed
    [InlineData("layers.2.weight", new[] { 40 }, "[5, 8]")]       // flattened
    [InlineData("layers.0.weight", new[] { 2, 9 }, "[2, 1, 3, 3]")] // version 1's layout in a version-2 file
    public void ShapesOtherThanTheArchitectures_AreRefused_EvenWithTheSameElementCount(string tensor, int[] shape, string expected)
    {
        var edited = ModelBytes.Edit(SmallModelBytes(), h => h[tensor]!["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray()));
        var e = Refused(edited);
        Assert.Equal($"{tensor}.shape", e.Field);
        Assert.Contains($"needs {expected}", e.Message);
        Assert.True(e.Offset > 8);
    }

    [Fact]
    public void UnknownDuplicateAndMissingTensors_AreRefusedByName()
    {
        var bytes = SmallModelBytes();
        var (header, data) = ModelBytes.Split(bytes);
        // An extra tensor the architecture does not use.
        var extra = (JsonObject)header.DeepClone();
        extra["junk"] = new JsonObject { ["dtype"] = "F32", ["shape"] = new JsonArray(2), ["data_offsets"] = new JsonArray(data.Length, data.Length + 8) };
        var e = Refused(ModelBytes.Join(extra, [.. data, .. new byte[8]]));
        Assert.Contains("unexpected tensor 'junk'", e.Message);
        Assert.Equal("junk", e.Field);
        // The same name twice (JSON allows it; the format does not).
        string json = header.ToJsonString();
        string first = "\"layers.3.bias\":" + header["layers.3.bias"]!.ToJsonString();
        var duplicated = json.Replace(first, first + "," + first);
        e = Refused(ModelBytes.JoinText(duplicated.Replace(((string)header["__metadata__"]!["sha256"]!), new string('0', 64)), data, seal: true));
        Assert.Contains("duplicate tensor name 'layers.3.bias'", e.Message);
        // A parameter missing.
        var missing = (JsonObject)header.DeepClone();
        missing.Remove("layers.3.bias");
        e = Refused(ModelBytes.Join(missing, data));
        Assert.Contains("'layers.3.bias' [3] is missing", e.Message);
    }

    [Theory]
    [InlineData("layers.0.bias", "data_offsets", "[\"0\", \"8\"]")]
    [InlineData("layers.0.bias", "shape", "[\"2\"]")]
    [InlineData("layers.0.bias", "shape", "[2.0]")]
    [InlineData("layers.0.bias", "shape", "[-2]")]
    [InlineData("layers.0.bias", "dtype", "\"F16\"")]
    [InlineData("layers.0.bias", "dtype", "32")]
    [InlineData("layers.0.bias", "offsets", "[0, 8]")]
    [InlineData("__metadata__", "version", "2")]
    [InlineData("__metadata__", "version", "\"3\"")]
    [InlineData("__metadata__", "format", "\"pytorch\"")]
    [InlineData("__metadata__", "architecture", "\"input 36 | output 3 softmax | dense 2 relu\"")]
    [InlineData("__metadata__", "sha256", "\"abc\"")]
    public void HandEditedValues_GiveTypedErrorsNamingTheField(string entry, string key, string json)
    {
        var (header, data) = ModelBytes.Split(SmallModelBytes());
        header[entry]![key] = JsonNode.Parse(json);
        var edited = ModelBytes.Join(header, data, seal: key != "sha256");
        var e = Refused(edited);
        Assert.Equal($"{entry}.{key}", e.Field);
        Assert.Contains("edited", e.Message);
    }

    [Fact]
    public void AnArchitectureBlownUp_IsRefusedBeforeAnyNetworkIsBuilt()
    {
        var bytes = SmallModelBytes();
        var edited = ModelBytes.Edit(bytes, h => h["__metadata__"]!["architecture"] = "input 1x6x6 | conv 2 3 relu | maxpool 2 | dense 1000000 sigmoid | output 3 softmax");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Refused(edited);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("needs [1000000, 8]", e.Message);
        Assert.True(allocated < 4 << 20, $"refusing allocated {allocated:N0} bytes");
    }

    [Fact]
    public void NonFiniteWeights_AreRefusedByTensorAndElement()
    {
        using var net = Small();
        var values = net.ExportParameters();
        values[2][7] = float.NaN;
        net.ImportParameters(values);
        var stream = new MemoryStream();
        ModelFile.Save(stream, net);
        var e = Refused(stream.ToArray());
        Assert.Equal("layers.2.weight", e.Field);
        Assert.Contains("NaN at element 7", e.Message);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);

    [Fact]
    public async Task ADirectoryOrAFifo_IsRefusedWithoutBlocking()
    {
        using var temp = new TempDirectory();
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Load(temp.Path));
        Assert.Contains("directory", e.Message);
        Assert.Throws<FileNotFoundException>(() => ModelFile.Load(temp.File("missing.safetensors")));
        if (!OperatingSystem.IsLinux()) return;
        string fifo = temp.File("fifo.safetensors");
        Assert.Equal(0, mkfifo(fifo, Convert.ToUInt32("600", 8)));
        string link = temp.File("link.safetensors");
        File.CreateSymbolicLink(link, fifo);
        foreach (var path in new[] { fifo, link, "/dev/zero" })
        {
            var load = Task.Run(() => ModelFile.Load(path));
            Assert.True(await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(20))) == load, $"loading {path} blocked");
            var error = Assert.IsType<ModelFormatException>(load.Exception!.InnerException);
            Assert.Contains("not a regular file", error.Message);
        }
    }

    [Fact]
    public void TemporariesLeftByAKilledSave_AreRemovedByTheNextSave()
    {
        using var net = Small();
        using var temp = new TempDirectory();
        string path = temp.File("best.safetensors");
        int dead = DeadProcessId();
        string stale = Path.Combine(temp.Path, $".best.safetensors.{dead}.tmp");
        string live = Path.Combine(temp.Path, ".best.safetensors.1.tmp");   // process 1 always runs: its write may be in progress
        File.WriteAllText(stale, "half a model");
        File.WriteAllText(live, "another writer's");
        ModelFile.Save(path, net);
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live));
        Assert.Equal([live], Directory.GetFiles(temp.Path, "*.tmp"));
        using var loaded = ModelFile.Load(path);
    }

    [Fact]
    public void AWriteThatFails_LeavesThePreviousFileAndNoTemporary()
    {
        using var temp = new TempDirectory();
        string path = temp.File("accuracy.png");
        File.WriteAllBytes(path, [1, 2, 3]);
        // What a full disk does halfway through a write.
        var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, fs => { fs.Write(new byte[4096]); throw new IOException("No space left on device"); }));
        Assert.Contains("No space", e.Message);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(temp.Path));
        AtomicFile.WriteAllBytes(path, new byte[] { 4, 5 });
        Assert.Equal([4, 5], File.ReadAllBytes(path));
    }

    /// <summary>A process id that no running process has.</summary>
    internal static int DeadProcessId()
    {
        for (int pid = 4_000_000; ; pid--)
        {
            try { using var p = System.Diagnostics.Process.GetProcessById(pid); }
            catch (ArgumentException) { return pid; }
        }
    }

    [Fact]
    public void MutatedAndTruncatedFiles_OnlyEverThrowModelFormatException() =>
        ModelFuzz.Bytes(SmallModelBytes(), seed: 2024, load: file => { using var _ = ModelFile.Load(file, sourceName: "mutant"); });

    [Fact]
    public void AbsurdHeaderLength_IsRefusedBeforeAllocating()
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Load([0, 0, 0, 0, 0, 0, 0, 0x7f, (byte)'{', (byte)'}']));
        Assert.Contains("header length", e.Message);
        Assert.Equal(0, e.Offset);
        Assert.Equal("header length", e.Field);
    }

    [Fact]
    public void WrongSizedSpans_GiveArgumentExceptions_NamingTheExpectedLength()
    {
        using var net = Small();
        Assert.Contains("expects 36", Assert.Throws<ArgumentException>(() => net.Predict(new float[35], new float[3])).Message);
        Assert.Contains("expects 3", Assert.Throws<ArgumentException>(() => net.Predict(new float[36], new float[4])).Message);
        Assert.Contains("expects 36", Assert.Throws<ArgumentException>(() => net.Classify(new float[37])).Message);
        Assert.Contains("input size 36", Assert.Throws<ArgumentException>(() => net.PredictBatch(new float[50], new float[3])).Message);
        Assert.Contains("expects 6", Assert.Throws<ArgumentException>(() => net.PredictBatch(new float[72], new float[3])).Message);
        // The network still works afterwards (no workspace was lost).
        Assert.InRange(net.Classify(new float[36]), 0, 2);
    }

    [Fact]
    public void ErrorsFromUtf8AndJsonSyntax_GiveTheOffset()
    {
        var (header, data) = ModelBytes.Split(SmallModelBytes());
        string json = header.ToJsonString();
        int cut = json.IndexOf("\"data_offsets\"", StringComparison.Ordinal);
        var e = Refused(ModelBytes.JoinText(json[..cut] + "," + json[cut..], data, seal: false));
        Assert.Equal("header", e.Field);
        Assert.InRange(e.Offset, 8 + cut - 2, 8 + cut + 2);
        var bytes = SmallModelBytes();
        bytes[20] = 0xff;
        Assert.Contains("UTF-8", Refused(bytes).Message);
        Assert.Contains("'__metadata__'", Refused(ModelBytes.JoinText("{}", [], seal: false)).Message);
        Assert.Contains("JSON object", Refused(ModelBytes.JoinText("[1, 2]", [], seal: false)).Message);
    }
}
