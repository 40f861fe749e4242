using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeNet.Core.Gemm;

namespace NativeNet.Core;

/// <summary>The instruction sets NativeNet's CPU kernels are written for, from the narrowest.</summary>
public enum CpuLevel
{
    /// <summary>Plain loops: any CPU. (TensorPrimitives, used for plain elementwise math, picks its own width.)</summary>
    Scalar,

    /// <summary>256-bit vectors with FMA (AVX2 and FMA3): 16 vector registers.</summary>
    Avx2,

    /// <summary>512-bit vectors with masked loads and stores (AVX-512 F, BW, CD, DQ, VL): 32 vector registers.</summary>
    Avx512,
}

/// <summary>
/// What the CPU kernels of this process run, decided once: the instruction level, and everything that follows from it
/// (the GEMM's micro-kernel, block sizes and small-product rules in <see cref="Gemm"/>, and which fused kernels apply).
/// Every CPU kernel takes its choices from a context; this is the one place that asks the hardware what it supports.
/// <para>
/// <see cref="Default"/> is the widest level the CPU offers, or the level named by the environment variable
/// <c>NATIVENET_CPU_LEVEL</c> (<c>avx512</c>, <c>avx2</c> or <c>scalar</c>). <see cref="For"/> gives any supported
/// level, so one process can run (and test) every kernel variant the CPU can execute.
/// </para>
/// </summary>
public sealed class CpuContext
{
    /// <summary>The environment variable that forces a level for <see cref="Default"/>.</summary>
    public const string LevelVariable = "NATIVENET_CPU_LEVEL";

    /// <summary>One context per supported level, indexed by <see cref="CpuLevel"/>; null where the CPU lacks the level.</summary>
    private static readonly CpuContext?[] ByLevel =
        [.. new[] { CpuLevel.Scalar, CpuLevel.Avx2, CpuLevel.Avx512 }.Select(l => IsSupported(l) ? new CpuContext(l) : null)];

    private CpuContext(CpuLevel level)
    {
        Level = level;
        Gemm = GemmConfig.For(level);
    }

    /// <summary>The instruction level every kernel of this context runs at.</summary>
    public CpuLevel Level { get; }

    /// <summary>The GEMM's row of the configuration table: micro-kernel, cache blocks, small-product rules.</summary>
    internal GemmConfig Gemm { get; }

    /// <summary>The GEMM's micro-kernel tile (MR rows x NR columns of C) and cache blocks (MC rows of A, KC deep, NC columns of B).</summary>
    public (int MR, int NR, int MC, int KC, int NC) GemmBlocking => (Gemm.MR, Gemm.NR, Gemm.MC, Gemm.KC, Gemm.NC);

    /// <summary>
    /// Whether a dense layer's backward and its SGD step run as one kernel at this level (<see cref="Gemm.DenseBackward"/>):
    /// it keeps up to 12 rows of dx and of x in AVX-512's registers, or 10 rows of dx in AVX2's.
    /// </summary>
    public bool HasFusedDenseBackward => Level >= CpuLevel.Avx2;

    /// <summary>Whether convolutions the direct kernel covers skip im2col at this level (<see cref="Kernels.DirectConvolution"/>: blocks for AVX2 and AVX-512).</summary>
    public bool HasDirectConvolution => Level >= CpuLevel.Avx2;

    /// <summary>Whether <see cref="Default"/>'s level was forced by <see cref="LevelVariable"/>.</summary>
    public static bool IsForced => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(LevelVariable));

    /// <summary>Whether kernels use 512-bit vectors and masks.</summary>
    internal bool HasVector512 => Level >= CpuLevel.Avx512;

    /// <summary>Whether kernels use 256-bit vectors with FMA.</summary>
    internal bool HasVector256 => Level >= CpuLevel.Avx2;

    /// <summary>Every level this CPU (and the process's DOTNET_Enable* settings) can run, widest first.</summary>
    public static IReadOnlyList<CpuLevel> SupportedLevels { get; } =
        [.. new[] { CpuLevel.Avx512, CpuLevel.Avx2, CpuLevel.Scalar }.Where(IsSupported)];

    /// <summary>
    /// The context of the widest supported level, or of the level <see cref="LevelVariable"/> names. A misspelt or
    /// unsupported level throws (InvalidOperationException or PlatformNotSupportedException) at each use, naming it.
    /// </summary>
    public static CpuContext Default => s_default.Value;

    private static readonly Lazy<CpuContext> s_default = new(() => For(DefaultLevel()));

    /// <summary>Whether this CPU can run kernels of <paramref name="level"/>.</summary>
    /// <param name="level">The instruction level asked about.</param>
    public static bool IsSupported(CpuLevel level) => level switch
    {
        CpuLevel.Avx512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx512F.VL.IsSupported && Fma.IsSupported,
        CpuLevel.Avx2 => Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported,
        CpuLevel.Scalar => true,
        _ => false,
    };

    /// <summary>The context of one level; throws <see cref="PlatformNotSupportedException"/> when the CPU lacks it.</summary>
    /// <param name="level">The instruction level every kernel of the context runs at.</param>
    /// <exception cref="PlatformNotSupportedException">The CPU (or its DOTNET_Enable* settings) lacks <paramref name="level"/>.</exception>
    public static CpuContext For(CpuLevel level)
    {
        if (!IsSupported(level))
            throw new PlatformNotSupportedException($"CPU level {Name(level)} needs instructions this CPU (or its DOTNET_Enable* settings) does not offer; supported: {string.Join(", ", SupportedLevels.Select(Name))}.");
        return ByLevel[(int)level]!;
    }

    /// <summary>The level's name as <see cref="LevelVariable"/> and the command line spell it: avx512, avx2, scalar.</summary>
    /// <param name="level">The instruction level.</param>
    public static string Name(CpuLevel level) => level.ToString().ToLowerInvariant();

    /// <summary>Parses avx512 / avx2 / scalar (any case); false for anything else.</summary>
    /// <param name="text">The name; null gives false.</param>
    /// <param name="level">The level named, or <see cref="CpuLevel.Scalar"/> when the name is not one.</param>
    public static bool TryParse(string? text, out CpuLevel level)
    {
        foreach (var l in new[] { CpuLevel.Avx512, CpuLevel.Avx2, CpuLevel.Scalar })
            if (string.Equals(text, Name(l), StringComparison.OrdinalIgnoreCase))
            {
                level = l;
                return true;
            }
        level = CpuLevel.Scalar;
        return false;
    }

    /// <summary>For example "avx2 (6 x 16 GEMM micro-kernel)".</summary>
    public override string ToString() => $"{Name(Level)} ({Gemm.MR} x {Gemm.NR} GEMM micro-kernel)";

    private static CpuLevel DefaultLevel()
    {
        var forced = Environment.GetEnvironmentVariable(LevelVariable);
        if (string.IsNullOrEmpty(forced)) return SupportedLevels[0];
        if (!TryParse(forced, out var level))
            throw new InvalidOperationException($"{LevelVariable}='{forced}' is not one of avx512, avx2, scalar.");
        return level;
    }
}
