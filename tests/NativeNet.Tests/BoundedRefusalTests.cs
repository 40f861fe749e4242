using System.Diagnostics;
using System.Text.Json.Nodes;
using NativeNet.Layers;
using NativeNet.Persistence;
using Xunit.Abstractions;

namespace NativeNet.Tests;

/// <summary>
/// Untrusted model files that once cost gigabytes and minutes before they were refused: a header edit, an
/// architecture blown up to a million units, a junk tensor of 400 million floats, a consistent header whose data are
/// missing. Each must be refused with a typed error within a second and within 100 MB of the process's memory
/// (peak resident size over the refusal, measured from /proc, and managed allocations); the figures are printed.
/// </summary>
[Collection(nameof(MemoryMeasurements))]
public sealed class BoundedRefusalTests(ITestOutputHelper output)
{
    private const long Bound = 100L << 20;

    /// <summary>The book's first network (784-30-10, a 96 KB file), as the issue's cases started from.</summary>
    private static byte[] Chapter1Model()
    {
        using var net = NetworkSpec.Parse("input 784 | dense 30 sigmoid | output 10 sigmoid-quadratic").Build(1, WeightInit.StandardNormal);
        var stream = new MemoryStream();
        ModelFile.Save(stream, net);
        return stream.ToArray();
    }

    public static TheoryData<string> Cases => new() { "activation edited", "architecture blown up", "junk tensor", "data missing" };

    [Theory]
    [MemberData(nameof(Cases))]
    public void UntrustedFiles_AreRefused_InBoundedTimeAndMemory(string name)
    {
        using var temp = new TempDirectory();
        string path = temp.File("model.safetensors");
        var model = Chapter1Model();
        var (header, data) = ModelBytes.Split(model);
        var meta = header["__metadata__"]!.AsObject();
        string expected;
        switch (name)
        {
            case "activation edited":
                meta["architecture"] = "input 784 | dense 30 relu | output 10 sigmoid-quadratic";
                File.WriteAllBytes(path, ModelBytes.Join(header, data, seal: false));
                expected = "checksum";
                break;
            case "architecture blown up":
                meta["architecture"] = "input 784 | dense 1000000 relu | output 10 softmax";
                File.WriteAllBytes(path, ModelBytes.Join(header, data));
                expected = "needs [1000000, 784]";
                break;
            case "junk tensor":
                // A real 1.6 GB file (sparse on disk): the tensor is refused by name before a byte of it is read.
                long junk = 400_000_000L * 4;
                header["junk"] = new JsonObject { ["dtype"] = "F32", ["shape"] = new JsonArray(400_000_000), ["data_offsets"] = new JsonArray(data.Length, data.Length + junk) };
                File.WriteAllBytes(path, ModelBytes.Join(header, data));
                using (var fs = new FileStream(path, FileMode.Open)) fs.SetLength(fs.Length + junk);
                expected = "unexpected tensor 'junk'";
                break;
            default:
                // A header consistent with a 784-1,000,000-10 network and 96 KB of data: the truncation is found before allocating.
                var big = NetworkSpec.Parse("input 784 | dense 1000000 relu | output 10 softmax");
                header = BigHeader(big);
                File.WriteAllBytes(path, ModelBytes.Join(header, data));
                expected = "truncated";
                break;
        }

        var (seconds, managed, peak) = Measure(() =>
        {
            var e = Assert.Throws<ModelFormatException>(() => ModelFile.Load(path));
            Assert.Contains(expected, e.Message);
        });
        output.WriteLine($"{name}: refused in {seconds * 1000:F1} ms, {managed / 1024.0:N0} KiB allocated, peak resident +{(peak is long p ? $"{p / 1048576.0:F1} MiB" : "n/a")}");
        Assert.True(managed < Bound, $"{name}: {managed:N0} bytes allocated");
        if (peak is long rise) Assert.True(rise < Bound, $"{name}: resident size rose by {rise:N0} bytes");
        Assert.True(seconds < 1, $"{name}: took {seconds:F2} s");
    }

    /// <summary>A header that declares every tensor of <paramref name="spec"/> consistently.</summary>
    private static JsonObject BigHeader(NetworkSpec spec)
    {
        using var probe = NetworkSpec.Parse("input 784 | dense 1 relu | output 10 softmax").Build(0, WeightInit.ScaledByFanIn);
        var stream = new MemoryStream();
        ModelFile.Save(stream, probe);
        var (header, _) = ModelBytes.Split(stream.ToArray());
        var layout = ModelLayout.Of(spec, ModelFile.Version);
        long offset = 0;
        foreach (var t in layout.Parameters)
        {
            header[t.Name] = new JsonObject
            {
                ["dtype"] = "F32", ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + t.Count * 4),
            };
            offset += t.Count * 4;
        }
        header["__metadata__"]!["architecture"] = spec.Text;
        header["__metadata__"]!["layers"] = layout.LayersJson;
        return header;
    }

    /// <summary>The best of three runs: seconds, managed bytes allocated, and the rise of the resident peak (null where it cannot be reset).</summary>
    private static (double Seconds, long Managed, long? Peak) Measure(Action refusal)
    {
        double best = double.MaxValue;
        long managed = long.MaxValue;
        long? peak = null;
        for (int i = 0; i < 3; i++)
        {
            ProcessMemory.Settle();
            bool canPeak = ProcessMemory.Available && ProcessMemory.ResetPeak();
            long baseline = canPeak ? ProcessMemory.Resident : 0;
            long before = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            refusal();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
            managed = Math.Min(managed, GC.GetAllocatedBytesForCurrentThread() - before);
            if (canPeak) peak = Math.Min(peak ?? long.MaxValue, ProcessMemory.Peak - baseline);
        }
        return (best, managed, peak);
    }
}
