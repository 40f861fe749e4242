using System.Text.Json;

namespace NativeNet.Persistence;

/// <summary>A tensor entry of a safetensors header: its name, declared shape and byte range in the data section.</summary>
internal readonly record struct TensorEntry(TensorInfo Info, long Begin, long End);

/// <summary>
/// Reads a safetensors JSON header with <see cref="Utf8JsonReader"/> (no reflection, no document tree), in two passes:
/// <see cref="ReadMetadata"/> finds <c>__metadata__</c> wherever it stands; once the caller knows from it which
/// tensors the architecture has, <see cref="ReadEntries"/> checks every tensor entry against that list as it reads it.
/// Every problem is a <see cref="ModelFormatException"/> with the byte offset in the file and the field it concerns;
/// duplicate names, unknown keys and values of the wrong JSON type are refused, not skipped.
/// </summary>
internal static class SafetensorsHeader
{
    /// <summary>The header starts after the 8-byte length.</summary>
    public const int Start = 8;

    private static readonly JsonReaderOptions Options = new() { MaxDepth = 8 };

    public const string MetadataKey = "__metadata__";

    /// <summary>The metadata strings, each key's offset in the file, and where the <c>sha256</c> value's 64 hex digits start in <paramref name="json"/> (-1 if not found).</summary>
    public static (Dictionary<string, string> Values, Dictionary<string, long> Offsets, int ChecksumAt) ReadMetadata(string source, byte[] json)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
        int checksumAt = -1;
        bool found = false;
        var reader = new Utf8JsonReader(json, Options);
        try
        {
            ReadRootStart(source, ref reader);
            while (NextProperty(source, ref reader, "header") is string name)
            {
                long at = Start + reader.TokenStartIndex;
                reader.Read();
                if (name != MetadataKey)
                {
                    reader.Skip();
                    continue;
                }
                if (found) throw new ModelFormatException(source, at, $"'{MetadataKey}' appears twice.", MetadataKey);
                found = true;
                if (reader.TokenType != JsonTokenType.StartObject)
                    throw new ModelFormatException(source, Start + reader.TokenStartIndex, $"'{MetadataKey}' is {Describe(reader.TokenType)}; expected an object of strings.", MetadataKey);
                while (NextProperty(source, ref reader, MetadataKey) is string key)
                {
                    string field = $"{MetadataKey}.{key}";
                    long keyAt = Start + reader.TokenStartIndex;
                    if (values.ContainsKey(key)) throw new ModelFormatException(source, keyAt, $"metadata key '{key}' appears twice.", field);
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                        throw new ModelFormatException(source, Start + reader.TokenStartIndex, $"metadata '{key}' is {Describe(reader.TokenType)}; expected a string.", field);
                    if (key == "sha256" && reader.ValueSpan.Length == 64 && !reader.ValueIsEscaped) checksumAt = (int)reader.TokenStartIndex + 1;
                    values[key] = reader.GetString()!;
                    offsets[key] = Start + reader.TokenStartIndex;
                }
            }
            ReadEnd(source, ref reader);
        }
        catch (JsonException e)
        {
            throw NotJson(source, json, e);
        }
        if (!found) throw new ModelFormatException(source, Start, $"the header has no '{MetadataKey}'; a NativeNet model names its format, version and architecture there.", MetadataKey);
        return (values, offsets, checksumAt);
    }

    /// <summary>
    /// Every tensor entry, each checked against <paramref name="layout"/>: a name it does not know, a name given twice,
    /// a dtype other than F32, a shape other than the architecture's, or offsets that do not span the shape are refused.
    /// </summary>
    public static List<TensorEntry> ReadEntries(string source, byte[] json, ModelLayout layout, string architecture)
    {
        var entries = new List<TensorEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(json, Options);
        try
        {
            ReadRootStart(source, ref reader);
            while (NextProperty(source, ref reader, "header") is string name)
            {
                long at = Start + reader.TokenStartIndex;
                reader.Read();
                if (name == MetadataKey)
                {
                    reader.Skip();
                    continue;
                }
                if (!seen.Add(name)) throw new ModelFormatException(source, at, $"duplicate tensor name '{name}': each tensor may appear once.", name);
                var info = layout.Find(name) ?? throw new ModelFormatException(source, at,
                    $"unexpected tensor '{name}': architecture '{architecture}' has no such tensor (it has {Names(layout)}, and a checkpoint their '{ModelLayout.VelocityPrefix}' copies).", name);
                entries.Add(ReadEntry(source, ref reader, info, at));
            }
            ReadEnd(source, ref reader);
        }
        catch (JsonException e)
        {
            throw NotJson(source, json, e);
        }
        return entries;
    }

    private static string Names(ModelLayout layout) =>
        layout.Parameters.Count == 0 ? "no tensors"
        : layout.Parameters.Count <= 8 ? string.Join(", ", layout.Parameters.Select(p => p.Name))
        : string.Join(", ", layout.Parameters.Take(8).Select(p => p.Name)) + $" and {layout.Parameters.Count - 8} more";

    private static TensorEntry ReadEntry(string source, ref Utf8JsonReader reader, TensorInfo expected, long at)
    {
        string name = expected.Name;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new ModelFormatException(source, Start + reader.TokenStartIndex, $"tensor '{name}' is {Describe(reader.TokenType)}; expected an object with dtype, shape and data_offsets.", name);
        string? dtype = null;
        int[]? shape = null;
        long[]? offsets = null;
        while (NextProperty(source, ref reader, name) is string key)
        {
            string field = $"{name}.{key}";
            long keyAt = Start + reader.TokenStartIndex;
            reader.Read();
            long valueAt = Start + reader.TokenStartIndex;
            switch (key)
            {
                case "dtype" when dtype is null:
                    if (reader.TokenType != JsonTokenType.String || reader.GetString() != "F32")
                        throw new ModelFormatException(source, valueAt, $"tensor '{name}' has dtype {Text(ref reader)}; expected \"F32\".", field);
                    dtype = "F32";
                    break;
                case "shape" when shape is null:
                    shape = ReadIntegers<int>(source, ref reader, field, maxLength: 8, (ref Utf8JsonReader r) => r.TryGetInt32(out int v) && v >= 0 ? v : (int?)null).ToArray();
                    if (!shape.AsSpan().SequenceEqual(expected.Shape))
                        throw new ModelFormatException(source, valueAt,
                            $"tensor '{name}' is declared [{string.Join(", ", shape)}]; the architecture needs {expected.ShapeText}.", field);
                    break;
                case "data_offsets" when offsets is null:
                    offsets = ReadIntegers<long>(source, ref reader, field, maxLength: 2, (ref Utf8JsonReader r) => r.TryGetInt64(out long v) && v >= 0 ? v : (long?)null).ToArray();
                    if (offsets.Length != 2 || offsets[1] < offsets[0])
                        throw new ModelFormatException(source, valueAt, $"tensor '{name}' has data_offsets [{string.Join(", ", offsets)}]; expected [begin, end] with begin <= end.", field);
                    break;
                case "dtype" or "shape" or "data_offsets":
                    throw new ModelFormatException(source, keyAt, $"tensor '{name}' gives '{key}' twice.", field);
                default:
                    throw new ModelFormatException(source, keyAt, $"tensor '{name}' has an unknown key '{key}'; expected dtype, shape and data_offsets.", field);
            }
        }
        if (dtype is null || shape is null || offsets is null)
            throw new ModelFormatException(source, at, $"tensor '{name}' lacks '{(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}'.", name);
        if (offsets[1] - offsets[0] != expected.Count * sizeof(float))
            throw new ModelFormatException(source, at, $"tensor '{name}' spans {offsets[1] - offsets[0]} bytes but its shape {expected.ShapeText} needs {expected.Count * sizeof(float)}.", $"{name}.data_offsets");
        return new TensorEntry(expected, offsets[0], offsets[1]);
    }

    /// <summary>A JSON array of at most <paramref name="maxLength"/> integers, each accepted by <paramref name="parse"/>.</summary>
    private static List<T> ReadIntegers<T>(string source, ref Utf8JsonReader reader, string field, int maxLength, ReadInteger<T> parse) where T : struct
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new ModelFormatException(source, Start + reader.TokenStartIndex, $"'{field}' is {Describe(reader.TokenType)}; expected an array of whole numbers.", field);
        var values = new List<T>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (values.Count == maxLength)
                throw new ModelFormatException(source, Start + reader.TokenStartIndex, $"'{field}' has more than {maxLength} values.", field);
            if (reader.TokenType != JsonTokenType.Number || parse(ref reader) is not T v)
                throw new ModelFormatException(source, Start + reader.TokenStartIndex, $"'{field}' holds {Text(ref reader)}; expected a whole number from 0 up.", field);
            values.Add(v);
        }
        return values;
    }

    private delegate T? ReadInteger<T>(ref Utf8JsonReader reader) where T : struct;

    private static void ReadRootStart(string source, ref Utf8JsonReader reader)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new ModelFormatException(source, Start, "the header must be a JSON object.", "header");
    }

    /// <summary>The next property name of the object the reader is in, or null at its end.</summary>
    private static string? NextProperty(string source, ref Utf8JsonReader reader, string field)
    {
        if (!reader.Read()) throw new ModelFormatException(source, Start + reader.BytesConsumed, $"'{field}' ends early.", field);
        return reader.TokenType == JsonTokenType.PropertyName ? reader.GetString() : null;
    }

    /// <summary>Only whitespace (the padding) may follow the root object.</summary>
    private static void ReadEnd(string source, ref Utf8JsonReader reader)
    {
        if (reader.Read()) throw new ModelFormatException(source, Start + reader.TokenStartIndex, "the header has more after its closing brace; expected only spaces.", "header");
    }

    private static ModelFormatException NotJson(string source, byte[] json, JsonException e)
    {
        // The reader reports a line and a byte position in it; turn them into an offset in the file.
        long offset = 0;
        for (long line = 0; line < (e.LineNumber ?? 0) && offset < json.Length; offset++)
            if (json[offset] == (byte)'\n') line++;
        return new ModelFormatException(source, Start + offset + (e.BytePositionInLine ?? 0), $"the header is not valid JSON: {e.Message}", "header");
    }

    private static string Describe(JsonTokenType t) => t switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => t.ToString(),
    };

    /// <summary>The current value as short text for a message: a primitive as written, an object or array by its kind.</summary>
    private static string Text(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String or JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null =>
            reader.ValueSpan.Length <= 40 ? (reader.TokenType == JsonTokenType.String ? $"\"{reader.GetString()}\"" : System.Text.Encoding.UTF8.GetString(reader.ValueSpan)) : Describe(reader.TokenType),
        _ => Describe(reader.TokenType),
    };
}
