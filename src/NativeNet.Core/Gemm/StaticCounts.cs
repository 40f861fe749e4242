namespace NativeNet.Core.Gemm;

/// <summary>
/// A compile-time count, so the JIT compiles a kernel once per count with the unused registers and steps removed:
/// rows of C (micro-kernels, row blocks, dot-product blocks, the dense backward), columns (dot-product blocks),
/// filters (direct convolution) or vectors of B per step (16 floats at AVX-512, 8 at AVX2).
/// </summary>
internal interface IStaticCount
{
    static abstract int Value { get; }
}

/// <summary>A compile-time yes or no, for kernels compiled once per choice (for example: is the last vector read through a mask).</summary>
internal interface IStaticFlag
{
    static abstract bool Value { get; }
}

internal readonly struct Yes : IStaticFlag { public static bool Value => true; }
internal readonly struct No : IStaticFlag { public static bool Value => false; }

internal readonly struct Rows1 : IStaticCount { public static int Value => 1; }
internal readonly struct Rows2 : IStaticCount { public static int Value => 2; }
internal readonly struct Rows3 : IStaticCount { public static int Value => 3; }
internal readonly struct Rows4 : IStaticCount { public static int Value => 4; }
internal readonly struct Rows5 : IStaticCount { public static int Value => 5; }
internal readonly struct Rows6 : IStaticCount { public static int Value => 6; }
internal readonly struct Rows7 : IStaticCount { public static int Value => 7; }
internal readonly struct Rows8 : IStaticCount { public static int Value => 8; }
internal readonly struct Rows9 : IStaticCount { public static int Value => 9; }
internal readonly struct Rows10 : IStaticCount { public static int Value => 10; }
internal readonly struct Rows11 : IStaticCount { public static int Value => 11; }
internal readonly struct Rows12 : IStaticCount { public static int Value => 12; }
internal readonly struct Cols1 : IStaticCount { public static int Value => 1; }
internal readonly struct Cols2 : IStaticCount { public static int Value => 2; }
internal readonly struct Cols3 : IStaticCount { public static int Value => 3; }
internal readonly struct Cols4 : IStaticCount { public static int Value => 4; }
internal readonly struct Cols5 : IStaticCount { public static int Value => 5; }
internal readonly struct Cols6 : IStaticCount { public static int Value => 6; }
internal readonly struct Vectors1 : IStaticCount { public static int Value => 1; }
internal readonly struct Vectors2 : IStaticCount { public static int Value => 2; }
