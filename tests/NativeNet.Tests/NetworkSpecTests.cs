using NativeNet.Core.Kernels;
using NativeNet.Layers;

namespace NativeNet.Tests;

public class NetworkSpecTests
{
    [Theory]
    [InlineData("input 784 | dense 100 relu dropout 0.5 | output 10 softmax", "unexpected 'dropout'")]
    [InlineData("input 784 | dense 100 relu dropuot=0.5 | output 10 softmax", "unknown option 'dropuot'")]
    [InlineData("input 784 | dense 100 relu dropout=NaN | output 10 softmax", "dropout=NaN")]
    [InlineData("input 784 | dense 100 relu dropout=1 | output 10 softmax", "dropout=1")]
    [InlineData("input 784 | dense 100 relu dropout=0.1 dropout=0.2 | output 10 softmax", "'dropout' is given twice")]
    [InlineData("input 784 | dense 100 relu relu | output 10 softmax", "unexpected 'relu'")]
    [InlineData("input 784 | dense 100 | output 10 softmax", "missing argument 2")]
    [InlineData("input 784 | dense -100 relu | output 10 softmax", "'-100'")]
    [InlineData("input 784 | dense 1e3 relu | output 10 softmax", "'1e3'")]
    [InlineData("input 784 | dense 100 wobble | output 10 softmax", "wobble")]
    [InlineData("input 1x28x28 | conv 20 5 relu stride=1.5 | output 10 softmax", "stride=1.5")]
    [InlineData("input 1x28x28 | conv 20 5 relu pad=-1 | output 10 softmax", "pad=-1")]
    [InlineData("input 1x28x28 | conv 20 5 relu | maxpool 2 2 | output 10 softmax", "unexpected '2'")]
    [InlineData("input 1x28x28 | conv 20 50 relu | output 10 softmax", "larger than the padded input")]
    [InlineData("input 1x28 | output 10 softmax", "'1x28'")]
    [InlineData("input 784 extra | output 10 softmax", "unexpected 'extra'")]
    [InlineData("input 784 | | output 10 softmax", "layer 2 is empty")]
    [InlineData("input 784 | output 10 softmax | dense 5 relu", "must end with an output layer")]
    [InlineData("input 784 | output 10 softmax | output 10 softmax", "'output' must be the last layer")]
    [InlineData("input 784 | input 784 | output 10 softmax", "'input' may only be the first layer")]
    [InlineData("input 784 | dense 30 relu", "must end with an output layer")]
    [InlineData("dense 30 relu | output 10 softmax", "must start with 'input")]
    [InlineData("input 784 | dense 30 relu | output 10 softmax-ish", "softmax-ish")]
    [InlineData("input 100000x100000x1000 | output 10 softmax", "100000")]
    [InlineData("input 1x28x28 | warp 3 | output 10 softmax", "unknown layer kind 'warp'")]
    public void EveryTokenIsUnderstood_OrNamedInTheError(string text, string fragment)
    {
        var e = Assert.Throws<FormatException>(() => NetworkSpec.Parse(text));
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void ParsingAHugeArchitecture_AllocatesNoTensor()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var spec = NetworkSpec.Parse("input 784 | dense 1000000 relu | dense 2000 relu | output 10 softmax");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Equal("input 784 | dense 1000000 relu | dense 2000 relu | output 10 softmax", spec.Text);
        // One tensor cannot hold more than int.MaxValue floats: refused at parse time, not when building.
        Assert.Contains("weights", Assert.Throws<FormatException>(() => NetworkSpec.Parse("input 784 | dense 16000000 relu | output 10 softmax")).Message);
    }

    [Fact]
    public void TheArchitectureOfABuiltNetwork_ParsesBackToTheSameLayers()
    {
        using var net = NetworkBuilder.ForInput(12).Dense(5, Activation.Sigmoid, 0.5f).Dense(4, Activation.Identity).Output(3, OutputCost.LinearQuadratic).Build();
        Assert.Equal("input 12 | dense 5 sigmoid dropout=0.5 | dense 4 linear | output 3 linear", net.Architecture.Text);
        using var again = net.Architecture.Build(0, WeightInit.ScaledByFanIn);
        Assert.Equal(net.Describe(), again.Describe());
        using var fromSpec = NetworkSpec.Parse("input 1x28x28 | conv 20 5 relu | maxpool 2 | output 10 softmax").Build(1, WeightInit.Chapter6);
        Assert.Equal("input 1x28x28 | conv 20 5 relu | maxpool 2 | output 10 softmax", fromSpec.Architecture.Text);
    }
}
