using System.Diagnostics;
using Xunit.Abstractions;

namespace NativeNet.Data.Tests;

public sealed class IdxFuzzTests(ITestOutputHelper output)
{
    private const int Seed = 20_240_601;
    private const int MinimumIterations = 10_000;
    private static readonly TimeSpan TimeBudget = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Mutates and truncates small valid IDX files (raw and gzip) at least 10,000 times, and
    /// for about two seconds beyond that: reading each must either succeed or throw
    /// IdxFormatException, never anything else. Seeded, so a failure names a reproducible case.
    /// </summary>
    [Fact]
    public void MutatedFiles_OnlyEverThrowIdxFormatException()
    {
        byte[][] seeds = CreateSeeds();
        var random = new Random(Seed);
        var clock = Stopwatch.StartNew();
        int iterations = 0;
        int valid = 0;
        while (iterations < MinimumIterations || clock.Elapsed < TimeBudget)
        {
            byte[] mutated = Mutate(seeds[random.Next(seeds.Length)], random);
            try
            {
                IdxFile file = IdxReader.Read(new MemoryStream(mutated), "fuzz");
                AssertConsistent(file);
                valid++;
            }
            catch (IdxFormatException ex)
            {
                Assert.Equal("fuzz", ex.FilePath);
                Assert.InRange(ex.Offset, 0, long.MaxValue);
            }
            catch (Exception ex)
            {
                Assert.Fail($"Iteration {iterations} (seed {Seed}) threw {ex.GetType().Name}: {ex.Message}\ninput: {Convert.ToHexString(mutated)}");
            }

            iterations++;
        }

        output.WriteLine($"{iterations:N0} mutated files in {clock.Elapsed.TotalSeconds:F1} s, {valid:N0} of them still valid");
        Assert.True(iterations >= MinimumIterations);
        Assert.True(valid > 0, "no mutation stayed valid; the fuzzer is not exercising the success path");
    }

    private static byte[][] CreateSeeds()
    {
        var random = new Random(7);
        var images = new byte[3 * 5 * 4];
        random.NextBytes(images);
        byte[][] raw =
        [
            Idx.Bytes([3, 5, 4], images),
            Idx.Bytes([10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]),
            Idx.Bytes([0, 28, 28], []),
            Idx.Bytes([2, 2, 2, 2], Idx.Sequence(16)),
        ];
        return [.. raw, .. raw.Select(Idx.Gzip)];
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = new List<byte>(original);
        int edits = 1 + random.Next(3);
        for (int e = 0; e < edits; e++)
        {
            int at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(7))
            {
                case 0 when bytes.Count > 0: // flip bits
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0: // an interesting value, header bytes most often
                    at = random.Next(2) == 0 ? random.Next(Math.Min(bytes.Count, 16)) : at;
                    bytes[at] = (byte)(random.Next(5) switch { 0 => 0x00, 1 => 0xFF, 2 => 0x7F, 3 => 0x80, _ => random.Next(256) });
                    break;
                case 2: // truncate
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 3: // append garbage
                    for (int n = random.Next(1, 8); n > 0; n--)
                    {
                        bytes.Add((byte)random.Next(256));
                    }

                    break;
                case 4 when bytes.Count > 0: // delete a run
                    bytes.RemoveRange(at, Math.Min(bytes.Count - at, random.Next(1, 5)));
                    break;
                case 5: // insert a byte
                    bytes.Insert(at, (byte)random.Next(256));
                    break;
                default: // random byte anywhere
                    if (bytes.Count > 0)
                    {
                        bytes[at] = (byte)random.Next(256);
                    }

                    break;
            }
        }

        return [.. bytes];
    }

    private static void AssertConsistent(IdxFile file)
    {
        long product = 1;
        foreach (int size in file.Dimensions)
        {
            Assert.True(size >= 0);
            product *= size;
        }

        Assert.Equal(product, file.Data.Length);
    }
}
