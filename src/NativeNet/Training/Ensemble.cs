using NativeNet.Data;

namespace NativeNet.Training;

/// <summary>
/// A committee of trained networks that classify by plurality vote (chapter 6's "ensembles of networks"): each member
/// votes for its most likely class; the class with the most votes wins, ties go to the class with the larger score
/// summed over all members, and a tie on both to the smaller class index.
/// <see cref="Classify"/> is safe to call from many threads at once (each thread gets its own buffers on first use) and
/// allocates nothing after that, like <see cref="Network.Predict"/>.
/// </summary>
public sealed class Ensemble : IDisposable
{
    private readonly Network[] _members;
    private readonly bool _ownsMembers;
    private readonly ThreadLocal<Buffers> _buffers;

    /// <param name="members">At least one network; all with the same input and output sizes.</param>
    /// <param name="ownsMembers">Dispose the members when the ensemble is disposed.</param>
    public Ensemble(IEnumerable<Network> members, bool ownsMembers = false)
    {
        ArgumentNullException.ThrowIfNull(members);
        _members = members.ToArray();
        if (_members.Length == 0) throw new ArgumentException("An ensemble needs at least one network.", nameof(members));
        for (int i = 1; i < _members.Length; i++)
        {
            if (_members[i].OutputSize != _members[0].OutputSize)
                throw new ArgumentException($"Member {i} has {_members[i].OutputSize} outputs; member 0 has {_members[0].OutputSize}.", nameof(members));
            if (_members[i].InputSize != _members[0].InputSize)
                throw new ArgumentException($"Member {i} takes {_members[i].InputSize} inputs; member 0 takes {_members[0].InputSize}.", nameof(members));
        }
        _ownsMembers = ownsMembers;
        _buffers = new ThreadLocal<Buffers>(() => new Buffers(_members.Length, OutputSize));
    }

    /// <summary>The networks that vote.</summary>
    public IReadOnlyList<Network> Members => _members;
    /// <summary>The number of members.</summary>
    public int Count => _members.Length;
    /// <summary>Floats per input example, the same for every member.</summary>
    public int InputSize => _members[0].InputSize;
    /// <summary>Classes, the same for every member.</summary>
    public int OutputSize => _members[0].OutputSize;

    /// <summary>The plurality vote of the members' most likely classes for one example.</summary>
    /// <param name="example">The input, <see cref="InputSize"/> floats.</param>
    /// <exception cref="ArgumentException"><paramref name="example"/> is not <see cref="InputSize"/> floats long.</exception>
    public int Classify(ReadOnlySpan<float> example)
    {
        var b = _buffers.Value!;
        int k = OutputSize;
        for (int m = 0; m < _members.Length; m++) _members[m].Predict(example, b.Scores.AsSpan(m * k, k));
        return Vote(b.Scores, _members.Length, k, memberStride: k, rowOffset: 0, b.Votes, b.Sums);
    }

    /// <summary>The vote for every example of a data set, computed a chunk of examples at a time with batched inference.</summary>
    /// <param name="data">The images, <see cref="InputSize"/> features each.</param>
    /// <exception cref="ArgumentException">The images do not have <see cref="InputSize"/> features.</exception>
    public int[] ClassifyAll(LabeledImages data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Features != InputSize) throw new ArgumentException($"The images have {data.Features} features; the ensemble expects {InputSize}.", nameof(data));
        int k = OutputSize, chunk = Network.PredictBatchCapacity, members = _members.Length;
        var result = new int[data.Count];
        var scores = new float[members * chunk * k];
        var votes = new int[k];
        var sums = new float[k];
        for (int start = 0; start < data.Count; start += chunk)
        {
            int n = Math.Min(chunk, data.Count - start);
            var x = data.Pixels.AsSpan(start * InputSize, n * InputSize);
            for (int m = 0; m < members; m++) _members[m].PredictBatch(x, scores.AsSpan(m * n * k, n * k));
            for (int i = 0; i < n; i++) result[start + i] = Vote(scores, members, k, memberStride: n * k, rowOffset: i * k, votes, sums);
        }
        return result;
    }

    /// <summary>The fraction of the data set that the vote classifies correctly.</summary>
    /// <param name="data">The labelled images, <see cref="InputSize"/> features each.</param>
    public double Evaluate(LabeledImages data)
    {
        var predicted = ClassifyAll(data);
        int correct = 0;
        for (int i = 0; i < predicted.Length; i++) if (predicted[i] == data.Labels[i]) correct++;
        return predicted.Length == 0 ? 0 : (double)correct / predicted.Length;
    }

    /// <summary>
    /// The vote over member score rows: member m's scores for the example are
    /// <c>scores[m * memberStride + rowOffset ..][..classes]</c>.
    /// </summary>
    internal static int Vote(ReadOnlySpan<float> scores, int members, int classes, int memberStride, int rowOffset, Span<int> votes, Span<float> sums)
    {
        votes = votes[..classes];
        sums = sums[..classes];
        votes.Clear();
        sums.Clear();
        for (int m = 0; m < members; m++)
        {
            var row = scores.Slice(m * memberStride + rowOffset, classes);
            int best = 0;
            for (int c = 0; c < classes; c++)
            {
                sums[c] += row[c];
                if (row[c] > row[best]) best = c;
            }
            votes[best]++;
        }
        int winner = 0;
        for (int c = 1; c < classes; c++)
            if (votes[c] > votes[winner] || (votes[c] == votes[winner] && sums[c] > sums[winner])) winner = c;
        return winner;
    }

    /// <summary>Frees the per-thread buffers, and the members when the ensemble owns them.</summary>
    public void Dispose()
    {
        _buffers.Dispose();
        if (_ownsMembers) foreach (var m in _members) m.Dispose();
    }

    private sealed class Buffers(int members, int classes)
    {
        public readonly float[] Scores = new float[members * classes];
        public readonly int[] Votes = new int[classes];
        public readonly float[] Sums = new float[classes];
    }
}
