namespace NativeNet.Core.Backends;

/// <summary>Which axis of a row-major [rows x cols] matrix a bias vector runs along.</summary>
public enum BiasAxis
{
    /// <summary>bias[c] is added to column c: fully connected layers, [batch x features].</summary>
    PerColumn,
    /// <summary>bias[r] is added to row r: convolution outputs, [maps x (batch * pixels)].</summary>
    PerRow,
}
