using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Kernels;
using Silk.NET.OpenCL;

namespace NativeNet.OpenCL;

/// <summary>The host side of elementwise.cl: bias and activation, their gradients, softmax, output errors, dropout masks and the optimizer step.</summary>
public sealed unsafe partial class OpenClBackend
{
    /// <inheritdoc/>
    public void BiasActivation(Tensor z, Tensor bias, Tensor a, int rows, int cols, BiasAxis axis, Activation f)
    {
        long total = Matrix(rows, cols, nameof(z));
        Own(z, total, nameof(z)); Own(a, total, nameof(a));
        Own(bias, axis == BiasAxis.PerColumn ? cols : rows, nameof(bias));
        CheckEnum(f); CheckEnum(axis);
        if (total == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _biasActivation);
            args.Add(z); args.Add(bias); args.Add(a); args.Add(rows); args.Add(cols); args.Add((int)axis); args.Add((int)f);
            Launch(_biasActivation, total);
        }
    }

    /// <inheritdoc/>
    public void Softmax(Tensor z, Tensor a, int rows, int cols)
    {
        long total = Matrix(rows, cols, nameof(z));
        Own(z, total, nameof(z)); Own(a, total, nameof(a));
        if (total == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _softmax);
            args.Add(z); args.Add(a); args.Add(rows); args.Add(cols);
            LaunchGroups(_softmax, Math.Min(rows, MaxRowGroups));
        }
    }

    /// <inheritdoc/>
    public void ActivationBackward(Tensor a, Tensor gradA, Tensor gradZ, int length, Activation f)
    {
        CheckCount(length, nameof(length));
        Own(a, length, nameof(a)); Own(gradA, length, nameof(gradA)); Own(gradZ, length, nameof(gradZ));
        CheckEnum(f);
        if (length == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _activationBackward);
            args.Add(a); args.Add(gradA); args.Add(gradZ); args.Add(length); args.Add((int)f);
            Launch(_activationBackward, length);
        }
    }

    /// <inheritdoc/>
    public void BiasGradient(Tensor gradZ, Tensor gradBias, int rows, int cols, BiasAxis axis, float beta)
    {
        long total = Matrix(rows, cols, nameof(gradZ));
        Own(gradZ, total, nameof(gradZ));
        int outputs = axis == BiasAxis.PerColumn ? cols : rows;
        Own(gradBias, outputs, nameof(gradBias));
        CheckEnum(axis);
        if (outputs == 0) return;
        lock (_lock)
        {
            var k = axis == BiasAxis.PerColumn ? _biasGradColumns : _biasGradRows;
            var args = new Args(this, k);
            args.Add(gradZ); args.Add(gradBias); args.Add(rows); args.Add(cols); args.Add(beta);
            if (axis == BiasAxis.PerColumn) Launch(k, cols);
            else LaunchGroups(k, Math.Min(rows, MaxRowGroups));
        }
    }

    /// <inheritdoc/>
    public void OutputDelta(OutputCost cost, Tensor a, Tensor y, Tensor delta, int length)
    {
        CheckCount(length, nameof(length));
        Own(a, length, nameof(a)); Own(y, length, nameof(y)); Own(delta, length, nameof(delta));
        CheckEnum(cost);
        if (length == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _outputDelta);
            args.Add((int)cost); args.Add(a); args.Add(y); args.Add(delta); args.Add(length);
            Launch(_outputDelta, length);
        }
    }

    /// <inheritdoc/>
    public void Multiply(Tensor x, Tensor y, Tensor dst, int length)
    {
        CheckCount(length, nameof(length));
        Own(x, length, nameof(x)); Own(y, length, nameof(y)); Own(dst, length, nameof(dst));
        if (length == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _multiply);
            args.Add(x); args.Add(y); args.Add(dst); args.Add(length);
            Launch(_multiply, length);
        }
    }

    /// <inheritdoc/>
    public void Scale(Tensor x, float s, int length)
    {
        CheckCount(length, nameof(length));
        Own(x, length, nameof(x));
        if (length == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _scale);
            args.Add(x); args.Add(s); args.Add(length);
            Launch(_scale, length);
        }
    }

    /// <inheritdoc/>
    public void DropoutMask(Tensor mask, int length, float keep, ulong seed, ulong stream)
    {
        if (!(keep > 0f && keep <= 1f)) throw new ArgumentOutOfRangeException(nameof(keep), keep, "The keep probability must be in (0, 1].");
        CheckCount(length, nameof(length));
        Own(mask, length, nameof(mask));
        if (length == 0) return;
        uint threshold = (uint)Math.Min(keep * 16777216.0, 16777216.0); // exactly as Dropout.Mask
        lock (_lock)
        {
            var args = new Args(this, _dropout);
            args.Add(mask); args.Add(length); args.Add(threshold); args.Add(seed); args.Add(stream);
            Launch(_dropout, length);
        }
    }

    /// <inheritdoc/>
    public void Update(Tensor w, Tensor grad, Tensor? velocity, int length, in UpdateRule rule)
    {
        CheckCount(length, nameof(length));
        Own(w, length, nameof(w)); Own(grad, length, nameof(grad));
        if (rule.UsesVelocity)
        {
            if (velocity is null) throw new ArgumentException($"The update rule {rule} uses momentum but no velocity tensor was given.", nameof(velocity));
            Own(velocity, length, nameof(velocity));
        }
        if (length == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _update);
            args.Add(w); args.Add(grad); args.Add(rule.UsesVelocity ? velocity! : w);
            args.Add(length); args.Add(rule.LearningRate); args.Add(rule.GradientScale); args.Add(rule.L2); args.Add(rule.L1);
            args.Add(rule.Momentum); args.Add(rule.UsesVelocity ? 1 : 0); args.Add(rule.Nesterov ? 1 : 0);
            Launch(_update, length);
        }
    }
}
