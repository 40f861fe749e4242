using System.Diagnostics;
using NativeNet.Layers;
using Xunit.Abstractions;

namespace NativeNet.Onnx.Tests;

public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int Seed = 27_001;
    private const int MinimumIterations = 10_000;

    /// <summary>
    /// Mutates exported models (bit flips, interesting bytes, truncation, insertion, deletion, appended garbage) at least
    /// 10,000 times: reading each must either give a model that builds or throw an OnnxException, never anything else,
    /// and allocate within a small multiple of the file's size. Seeded, so a failure names a reproducible case.
    /// </summary>
    [Fact]
    public void MutatedModels_OnlyEverThrowOnnxExceptions_WithBoundedMemory()
    {
        byte[][] seeds = new[]
        {
            "input 1x6x6 | conv 2 3 relu | maxpool 2 | dense 5 sigmoid | output 3 softmax",
            "input 8 | dense 4 tanh dropout=0.5 | output 3 sigmoid-ce",
            "input 2x5x5 | conv 2 2 linear stride=2 pad=1 | l2pool 2 | output 2 linear",
        }.Select(s => { using var n = NetworkSpec.Parse(s).Build(1, WeightInit.ScaledByFanIn); return OnnxExporter.ToBytes(n); }).ToArray();
        var random = new Random(Seed);
        var clock = Stopwatch.StartNew();
        int iterations = 0, valid = 0;
        while (iterations < MinimumIterations || clock.Elapsed < TimeSpan.FromSeconds(1))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), $"only {iterations} mutations ran within two minutes");
            byte[] mutated = Mutate(seeds[random.Next(seeds.Length)], random);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                var model = OnnxImporter.Read(new MemoryStream(mutated), "fuzz");
                using var net = model.Build();
                Assert.Equal(model.Parameters.Sum(p => (long)p.Length), net.ParameterCount);
                valid++;
            }
            catch (OnnxException ex)
            {
                Assert.Equal("fuzz", ex.FilePath);
                Assert.DoesNotContain('\n', ex.Message);
            }
            catch (Exception ex)
            {
                Assert.Fail($"Iteration {iterations} (seed {Seed}) threw {ex.GetType().Name}: {ex.Message}\ninput: {Convert.ToHexString(mutated)}");
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 64L * mutated.Length + (4 << 20), $"iteration {iterations}: a {mutated.Length}-byte file allocated {allocated} bytes");
            iterations++;
        }
        output.WriteLine($"{iterations:N0} mutated models in {clock.Elapsed.TotalSeconds:F1} s, {valid:N0} still imported");
        Assert.True(valid > 0, "no mutation stayed valid; the fuzzer is not exercising the success path");
        Assert.True(valid < iterations / 2, $"{valid} of {iterations} mutants imported; the mutations are too weak");
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = new List<byte>(original);
        for (int edits = 1 + random.Next(3); edits > 0; edits--)
        {
            int at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(7))
            {
                case 0 when bytes.Count > 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1 when bytes.Count > 0: bytes[at] = (byte)(random.Next(5) switch { 0 => 0x00, 1 => 0xFF, 2 => 0x7F, 3 => 0x80, _ => random.Next(256) }); break;
                case 2: bytes.RemoveRange(at, bytes.Count - at); break;
                case 3: for (int n = random.Next(1, 8); n > 0; n--) bytes.Add((byte)random.Next(256)); break;
                case 4 when bytes.Count > 0: bytes.RemoveRange(at, Math.Min(bytes.Count - at, random.Next(1, 5))); break;
                case 5: bytes.Insert(at, (byte)random.Next(256)); break;
                default: if (bytes.Count > 0) bytes[at] = (byte)random.Next(256); break;
            }
        }
        return [.. bytes];
    }
}
