using System.Buffers.Binary;
using System.Text;

namespace NativeNet.Onnx;

/// <summary>The protobuf wire types (the low three bits of a field's tag).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// Reads the protobuf wire format from one message's bytes, [<see cref="Position"/>, end) of a shared buffer. Every
/// length is checked against the bytes left before anything is sliced or allocated, and every problem is an
/// <see cref="OnnxFormatException"/> naming the absolute byte offset. A nested message is read by a reader over its
/// own range (<see cref="ReadMessage"/>), so a bad length can never make a reader run past its parent.
/// </summary>
internal struct ProtoReader
{
    private readonly byte[] _buffer;
    private readonly int _end;
    private readonly string _file;
    private int _position;

    public ProtoReader(byte[] buffer, int start, int end, string file)
    {
        _buffer = buffer;
        _position = start;
        _end = end;
        _file = file;
    }

    public readonly int Position => _position;
    public readonly bool AtEnd => _position >= _end;
    public readonly string File => _file;

    public readonly OnnxFormatException Error(string problem, int? at = null) => new(_file, at ?? _position, problem);

    /// <summary>The next field's number and wire type.</summary>
    public (int Field, WireType Type) ReadTag()
    {
        int at = _position;
        ulong tag = ReadVarint();
        int wire = (int)(tag & 7);
        ulong field = tag >> 3;
        if (field == 0 || field > 536_870_911) throw Error($"field number {field} is outside 1..2^29-1", at);
        if (wire is 6 or 7) throw Error($"wire type {wire} does not exist (field {field})", at);
        return ((int)field, (WireType)wire);
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0, at = _position; ; shift += 7)
        {
            if (_position >= _end) throw Error("the data ends inside a varint", at);
            if (shift >= 64) throw Error("a varint is longer than 10 bytes", at);
            byte b = _buffer[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
    }

    public long ReadInt64() => (long)ReadVarint();

    /// <summary>An int32 or enum field: encoded as a sign-extended 64-bit varint, so it must fit in 32 bits.</summary>
    public int ReadInt32()
    {
        int at = _position;
        long v = ReadInt64();
        if (v is < int.MinValue or > int.MaxValue) throw Error($"value {v} does not fit an int32 field", at);
        return (int)v;
    }

    public float ReadFloat()
    {
        Need(4, "a 32-bit float");
        float v = BinaryPrimitives.ReadSingleLittleEndian(_buffer.AsSpan(_position, 4));
        _position += 4;
        return v;
    }

    /// <summary>The range of a length-delimited field, checked to lie within this message.</summary>
    public (int Start, int Length) ReadLengthDelimited()
    {
        int at = _position;
        ulong length = ReadVarint();
        if (length > (ulong)(_end - _position))
            throw Error($"a length-delimited field claims {length} bytes but only {_end - _position} remain in its message", at);
        int start = _position;
        _position += (int)length;
        return (start, (int)length);
    }

    public ArraySegment<byte> ReadBytes()
    {
        var (start, length) = ReadLengthDelimited();
        return new ArraySegment<byte>(_buffer, start, length);
    }

    public string ReadString()
    {
        var (start, length) = ReadLengthDelimited();
        var span = _buffer.AsSpan(start, length);
        if (!System.Text.Unicode.Utf8.IsValid(span)) throw Error("a string field is not valid UTF-8", start);
        return Encoding.UTF8.GetString(span);
    }

    /// <summary>A reader over an embedded message's bytes; this reader moves past them.</summary>
    public ProtoReader ReadMessage()
    {
        var (start, length) = ReadLengthDelimited();
        return new ProtoReader(_buffer, start, start + length, _file);
    }

    /// <summary>One value of a repeated int64 field, or all of them when the field is packed.</summary>
    public void ReadInt64s(WireType type, List<long> into)
    {
        if (type == WireType.Varint) { into.Add(ReadInt64()); return; }
        Expect(type, WireType.LengthDelimited, "repeated int64");
        var packed = ReadMessage();
        while (!packed.AtEnd) into.Add(packed.ReadInt64());
    }

    /// <summary>One value of a repeated float field, or all of them when packed.</summary>
    public void ReadFloats(WireType type, List<float> into)
    {
        if (type == WireType.Fixed32) { into.Add(ReadFloat()); return; }
        Expect(type, WireType.LengthDelimited, "repeated float");
        var (start, length) = ReadLengthDelimited();
        if (length % 4 != 0) throw Error($"a packed float field has {length} bytes, not a multiple of 4", start);
        into.EnsureCapacity(into.Count + length / 4);
        for (int i = 0; i < length; i += 4) into.Add(BinaryPrimitives.ReadSingleLittleEndian(_buffer.AsSpan(start + i, 4)));
    }

    /// <summary>Checks that a field has the wire type its declaration gives it.</summary>
    public readonly void Expect(WireType actual, WireType expected, string what)
    {
        if (actual != expected) throw Error($"{what} has wire type {actual}, expected {expected}");
    }

    /// <summary>Steps over a field this reader does not use.</summary>
    public void Skip(WireType type)
    {
        switch (type)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed64: Need(8, "a 64-bit field"); _position += 8; break;
            case WireType.Fixed32: Need(4, "a 32-bit field"); _position += 4; break;
            case WireType.LengthDelimited: ReadLengthDelimited(); break;
            default: throw Error($"wire type {type} (groups) is not used by ONNX");
        }
    }

    private readonly void Need(int bytes, string what)
    {
        if (_end - _position < bytes) throw Error($"the data ends inside {what} ({_end - _position} of {bytes} bytes left)");
    }
}

/// <summary>
/// Writes the protobuf wire format. An embedded message is written to its own writer first and then copied in with
/// its length (<see cref="WriteMessage"/>): ONNX models are small, so the copies cost nothing worth avoiding.
/// </summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _stream = new();

    public int Length => (int)_stream.Length;

    public byte[] ToArray() => _stream.ToArray();

    public void WriteTag(int field, WireType type) => WriteVarint(((ulong)field << 3) | (ulong)type);

    public void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _stream.WriteByte((byte)value);
    }

    public void WriteInt64(int field, long value)
    {
        WriteTag(field, WireType.Varint);
        WriteVarint((ulong)value);
    }

    public void WriteFloat(int field, float value)
    {
        WriteTag(field, WireType.Fixed32);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, value);
        _stream.Write(b);
    }

    public void WriteBytes(int field, ReadOnlySpan<byte> bytes)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)bytes.Length);
        _stream.Write(bytes);
    }

    public void WriteString(int field, string value) => WriteBytes(field, Encoding.UTF8.GetBytes(value));

    public void WriteMessage(int field, ProtoWriter message)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)message._stream.Length);
        message._stream.Position = 0;
        message._stream.CopyTo(_stream);
    }
}
