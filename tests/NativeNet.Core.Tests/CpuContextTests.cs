namespace NativeNet.Core.Tests;

public class CpuContextTests
{
    [Fact]
    public void SupportedLevels_AreWidestFirst_EndWithScalar_AndEachHasItsContext()
    {
        var levels = CpuContext.SupportedLevels;
        Assert.Equal(CpuLevel.Scalar, levels[^1]);
        Assert.Equal(levels.OrderByDescending(l => l), levels);
        foreach (var level in levels)
        {
            var cpu = CpuContext.For(level);
            Assert.Equal(level, cpu.Level);
            Assert.Same(cpu, CpuContext.For(level));
            Assert.Equal(level != CpuLevel.Scalar, cpu.HasFusedDenseBackward);
            Assert.Equal(level != CpuLevel.Scalar, cpu.HasDirectConvolution);
        }
        if (!CpuContext.IsForced) Assert.Equal(levels[0], CpuContext.Default.Level);
    }

    [Fact]
    public void UnsupportedLevel_IsRefused_NamingTheLevelsThatAre()
    {
        foreach (var level in Enum.GetValues<CpuLevel>().Where(l => !CpuContext.IsSupported(l)))
        {
            var ex = Assert.Throws<PlatformNotSupportedException>(() => CpuContext.For(level));
            Assert.Contains(CpuContext.Name(level), ex.Message);
            Assert.Contains("supported: " + string.Join(", ", CpuContext.SupportedLevels.Select(CpuContext.Name)), ex.Message);
        }
        Assert.Throws<PlatformNotSupportedException>(() => CpuContext.For((CpuLevel)7));
    }

    [Theory]
    [InlineData("avx512", true, CpuLevel.Avx512)]
    [InlineData("AVX2", true, CpuLevel.Avx2)]
    [InlineData("Scalar", true, CpuLevel.Scalar)]
    [InlineData("avx", false, CpuLevel.Scalar)]
    [InlineData("", false, CpuLevel.Scalar)]
    [InlineData(null, false, CpuLevel.Scalar)]
    public void LevelNames_Parse(string? text, bool parses, CpuLevel expected)
    {
        Assert.Equal(parses, CpuContext.TryParse(text, out var level));
        Assert.Equal(expected, level);
    }
}
