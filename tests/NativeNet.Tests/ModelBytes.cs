using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NativeNet.Tests;

/// <summary>
/// Takes a model file apart and puts it back together, for tests that edit a header as a person (or a bug) would.
/// <see cref="Join"/> re-seals version-2 files by the documented rule, written here independently of the library:
/// sha256 = SHA-256 of the whole file with those 64 digits read as '0'.
/// </summary>
internal static class ModelBytes
{
    public static (JsonObject Header, byte[] Data) Split(byte[] file)
    {
        long length = BinaryPrimitives.ReadInt64LittleEndian(file);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(file, 8, (int)length))!.AsObject();
        return (header, file.AsSpan(8 + (int)length).ToArray());
    }

    /// <summary>Serializes the header (compact), pads it to 8 bytes and, when <paramref name="seal"/>, recomputes the version-2 checksum.</summary>
    public static byte[] Join(JsonObject header, byte[] data, bool seal = true)
    {
        var meta = header["__metadata__"]?.AsObject();
        if (seal && meta is not null) meta["sha256"] = new string('0', 64);
        return JoinText(header.ToJsonString(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }), data, seal && meta is not null);
    }

    /// <summary>The same from header text as given (for headers that are not valid JSON, or spell a value oddly).</summary>
    public static byte[] JoinText(string json, byte[] data, bool seal)
    {
        var text = Encoding.UTF8.GetBytes(json);
        int pad = (8 - text.Length % 8) % 8;
        var file = new byte[8 + text.Length + pad + data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(file, text.Length + pad);
        text.CopyTo(file, 8);
        file.AsSpan(8 + text.Length, pad).Fill((byte)' ');
        data.CopyTo(file, 8 + text.Length + pad);
        if (seal)
        {
            var placeholder = Encoding.ASCII.GetBytes("\"sha256\":\"" + new string('0', 64) + "\"");
            int at = file.AsSpan().IndexOf(placeholder) + 10;
            var hex = Convert.ToHexStringLower(SHA256.HashData(file));
            Encoding.ASCII.GetBytes(hex).CopyTo(file, at);
        }
        return file;
    }

    /// <summary>Applies <paramref name="edit"/> to a file's header and re-seals it.</summary>
    public static byte[] Edit(byte[] file, Action<JsonObject> edit)
    {
        var (header, data) = Split(file);
        edit(header);
        return Join(header, data);
    }
}
