using System.Diagnostics;
using System.Text.Json.Nodes;
using NativeNet.Persistence;

namespace NativeNet.Tests;

/// <summary>
/// Seeded fuzzers for model and checkpoint files. <see cref="Bytes"/> truncates files and flips bytes;
/// <see cref="Json"/> edits the JSON header's values and types as a person or a buggy tool would (numbers written as
/// strings, negative or huge numbers, keys removed or repeated, shapes permuted or flattened, tensors renamed,
/// metadata values changed), re-sealing the checksum half of the time so the checks behind it are reached too.
/// Every load must succeed or throw an expected typed error, and allocate a bounded amount.
/// </summary>
internal static class ModelFuzz
{
    public const int MinimumRuns = 10_000;

    /// <summary>Runs <paramref name="load"/> on at least <see cref="MinimumRuns"/> byte-level mutants of <paramref name="original"/>.</summary>
    public static (int Runs, int Refused) Bytes(byte[] original, int seed, Action<byte[]> load, Func<Exception, bool>? alsoAllowed = null)
    {
        var rng = new Random(seed);
        return Run(original.Length, rng, alsoAllowed, load, () =>
        {
            var bytes = (byte[])original.Clone();
            switch (rng.Next(4))
            {
                case 0: Array.Resize(ref bytes, rng.Next(bytes.Length)); break;                     // truncation
                case 1: for (int i = rng.Next(1, 4); i > 0; i--) bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8)); break;
                case 2: bytes[rng.Next(Math.Min(8, bytes.Length))] = (byte)rng.Next(256); break;     // header length
                default: int at = 8 + rng.Next(Math.Min(400, bytes.Length - 8)); bytes[at] = (byte)"{}[]\",:0129e-"[rng.Next(13)]; break;
            }
            return bytes;
        });
    }

    /// <summary>Runs <paramref name="load"/> on at least <see cref="MinimumRuns"/> header-value mutants of <paramref name="original"/>.</summary>
    public static (int Runs, int Refused) Json(byte[] original, int seed, Action<byte[]> load, Func<Exception, bool>? alsoAllowed = null)
    {
        var rng = new Random(seed);
        var (header, data) = ModelBytes.Split(original);
        return Run(original.Length, rng, alsoAllowed, load, () =>
        {
            var h = (JsonObject)header.DeepClone();
            for (int edits = rng.Next(1, 3); edits > 0; edits--) MutateJson(h, rng);
            if (rng.Next(8) == 0)
            {
                // Repeat a property in the text (JSON parsers differ on duplicates; the format forbids them).
                string json = h.ToJsonString();
                var keys = h.Select(p => p.Key).ToArray();
                string key = keys[rng.Next(keys.Length)];
                string member = $"\"{key}\":{h[key]?.ToJsonString() ?? "null"}";
                return ModelBytes.JoinText(json.Replace(member, member + "," + member), data, seal: false);
            }
            return ModelBytes.Join(h, data, seal: rng.Next(2) == 0);
        });
    }

    private static (int, int) Run(int originalLength, Random rng, Func<Exception, bool>? alsoAllowed, Action<byte[]> load, Func<byte[]> mutate)
    {
        var clock = Stopwatch.StartNew();
        int runs = 0, refused = 0;
        while (runs < MinimumRuns && clock.Elapsed < TimeSpan.FromSeconds(90))
        {
            var bytes = mutate();
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                load(bytes);
            }
            catch (ModelFormatException)
            {
                refused++;
            }
            catch (Exception e) when (alsoAllowed?.Invoke(e) == true)
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutant {runs} threw {e.GetType().Name}: {e.Message}\n{System.Text.Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 600))}");
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 64L * Math.Max(bytes.Length, originalLength) + (4 << 20), $"loading a {bytes.Length}-byte mutant allocated {allocated:N0} bytes");
            runs++;
        }
        Assert.True(runs >= MinimumRuns, $"only {runs} mutants ran within the time bound");
        Assert.True(refused > runs / 3, $"only {refused} of {runs} mutants were refused: the mutations are too mild");
        return (runs, refused);
    }

    private static readonly Func<Random, JsonNode?>[] Replacements =
    [
        r => JsonValue.Create(r.Next(0, 100).ToString()),          // a number written as a string
        r => JsonValue.Create(-r.Next(1, 1000)),                   // negative
        r => JsonValue.Create(r.Next(2) == 0 ? 1e300 : 9_223_372_036_854_775_807L),   // huge
        r => JsonValue.Create(2.5),                                // not a whole number
        _ => null,
        r => JsonValue.Create(r.Next(2) == 0),
        _ => JsonValue.Create(""),
        _ => new JsonArray(),
        _ => new JsonObject(),
        r => new JsonArray(Enumerable.Range(0, r.Next(1, 20)).Select(i => (JsonNode?)JsonValue.Create(i * 1000)).ToArray()),
        r => JsonValue.Create(r.Next(2) == 0 ? "-3" : "NaN"),
        _ => JsonValue.Create("1e999"),
    ];

    private static void MutateJson(JsonObject header, Random rng)
    {
        var tensors = header.Where(p => p.Key != "__metadata__").Select(p => p.Key).ToArray();
        var meta = header["__metadata__"] as JsonObject;
        switch (rng.Next(7))
        {
            case 0 when tensors.Length > 0:   // a tensor field gets another value or type
            {
                var t = header[tensors[rng.Next(tensors.Length)]] as JsonObject;
                if (t is null || t.Count == 0) break;
                string key = t.Select(p => p.Key).ElementAt(rng.Next(t.Count));
                t[key] = Replacements[rng.Next(Replacements.Length)](rng);
                break;
            }
            case 1 when tensors.Length > 0:   // a shape permuted or flattened
            {
                if (header[tensors[rng.Next(tensors.Length)]] is not JsonObject t || t["shape"] is not JsonArray shape || shape.Count < 1) break;
                var dims = shape.Select(d => d is JsonValue v && v.TryGetValue(out long n) ? n : 1).ToArray();
                t["shape"] = rng.Next(2) == 0
                    ? new JsonArray(dims.Reverse().Select(d => (JsonNode?)JsonValue.Create(d)).ToArray())
                    : new JsonArray(JsonValue.Create(dims.Aggregate(1L, (a, b) => a * b)));
                break;
            }
            case 2 when meta is not null && meta.Count > 0:   // a metadata value gets another value or type
            {
                string key = meta.Select(p => p.Key).ElementAt(rng.Next(meta.Count));
                meta[key] = rng.Next(3) == 0 ? Replacements[rng.Next(Replacements.Length)](rng) : JsonValue.Create(NumberLike(rng));
                break;
            }
            case 3 when meta is not null && meta.Count > 0:   // a metadata key removed
                meta.Remove(meta.Select(p => p.Key).ElementAt(rng.Next(meta.Count)));
                break;
            case 4 when tensors.Length > 0:   // a tensor removed, renamed, or an extra one
            {
                string name = tensors[rng.Next(tensors.Length)];
                var node = header[name]!;
                header.Remove(name);
                int choice = rng.Next(3);
                if (choice == 0) header[name + "x"] = node;
                else if (choice == 1) { header[name] = node; header["junk." + rng.Next(100)] = node.DeepClone(); }
                break;
            }
            case 5:   // a tensor field removed
            {
                if (tensors.Length == 0 || header[tensors[rng.Next(tensors.Length)]] is not JsonObject t || t.Count == 0) break;
                t.Remove(t.Select(p => p.Key).ElementAt(rng.Next(t.Count)));
                break;
            }
            default:  // data_offsets shifted by a few bytes
            {
                if (tensors.Length == 0 || header[tensors[rng.Next(tensors.Length)]] is not JsonObject t || t["data_offsets"] is not JsonArray o || o.Count != 2) break;
                int k = rng.Next(2);
                if (o[k] is JsonValue v && v.TryGetValue(out long at)) o[k] = JsonValue.Create(at + rng.Next(-8, 9));
                break;
            }
        }
    }

    /// <summary>Values a hand edit of a metadata string might leave: negative, fractional, huge, empty, not a number.</summary>
    private static string NumberLike(Random rng) => rng.Next(9) switch
    {
        0 => "-3",
        1 => "-1",
        2 => "0",
        3 => "2.5",
        4 => "1e999",
        5 => "",
        6 => "NaN",
        7 => "99999999999",
        _ => "abc",
    };
}
