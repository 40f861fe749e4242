namespace NativeNet.Core.Tests;

/// <summary>Theory data: every instruction level this CPU supports, so one test run covers every kernel variant it can execute.</summary>
public static class CpuLevels
{
    public static TheoryData<CpuLevel> Supported
    {
        get
        {
            var data = new TheoryData<CpuLevel>();
            foreach (var level in CpuContext.SupportedLevels) data.Add(level);
            return data;
        }
    }
}

/// <summary>Theory rows: each case once per supported level, the level first.</summary>
public static class CpuLevelCases
{
    public static IEnumerable<object[]> Cross(params object[][] cases) =>
        from level in CpuContext.SupportedLevels from c in cases select (object[])[level, .. c];
}
