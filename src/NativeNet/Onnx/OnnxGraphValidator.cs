namespace NativeNet.Onnx;

/// <summary>A graph reduced to what NativeNet can run: one input, the nodes from it to the output in order, the constants.</summary>
internal sealed record OnnxChain(OnnxValueInfo Input, IReadOnlyList<OnnxNode> Nodes, IReadOnlyDictionary<string, OnnxTensor> Constants,
    OnnxValueInfo Output, long Opset);

/// <summary>
/// Checks an ONNX graph's structure before any op is interpreted: the opset, one float input of rank 2 or 4, one
/// output, every value produced once, every node input an initializer, a Constant, the graph input or another node's
/// output, no cycles (Kahn's topological sort), and one chain from the input to the output with constants on the side.
/// Each refusal is an <see cref="OnnxGraphException"/> naming the node and what was expected.
/// </summary>
internal static class OnnxGraphValidator
{
    /// <summary>The oldest and newest default-domain opsets whose semantics for the imported ops the importer knows.</summary>
    public const long MinOpset = 7, MaxOpset = 21;

    public static OnnxChain Validate(OnnxModel model, string file)
    {
        OnnxGraphException Graph(string problem) => new(file, null, null, problem);
        OnnxGraphException At(OnnxNode n, string problem) => new(file, n.Display, n.OpType, problem);

        var g = model.Graph ?? throw Graph("the model has no graph");
        long opset = model.Opsets.TryGetValue("", out long v) ? v : model.Opsets.TryGetValue("ai.onnx", out v) ? v : 0;
        if (opset < MinOpset || opset > MaxOpset)
            throw Graph(opset == 0 ? "the model imports no default-domain opset" : $"opset {opset} is not supported; NativeNet imports opsets {MinOpset} to {MaxOpset}");
        if (g.SparseInitializers > 0) throw Graph("the graph has sparse initializers, which NativeNet does not read");

        var constants = new Dictionary<string, OnnxTensor>();
        foreach (var t in g.Initializers)
            if (!constants.TryAdd(t.Name, t)) throw Graph($"two initializers are named '{t.Name}'");
        foreach (var n in g.Nodes)
        {
            if (n.Domain is not ("" or "ai.onnx")) throw At(n, $"domain '{n.Domain}' is not the default ONNX domain");
            if (n.OpType != "Constant") continue;
            var value = n.Attribute("value");
            if (n.Attributes.Count != 1 || value is not { Type: OnnxAttributeType.Tensor, T: not null })
                throw At(n, "only Constant nodes with a 'value' tensor attribute are supported");
            if (n.Outputs.Count != 1 || !constants.TryAdd(n.Outputs[0], value.T)) throw At(n, "a Constant must have one output whose name no other value has");
        }

        var inputs = g.Inputs.Where(i => !constants.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1)
            throw Graph($"the graph has {inputs.Count} inputs that are not initializers ({string.Join(", ", inputs.Select(i => i.Name))}); NativeNet networks take one");
        var input = inputs[0];
        if (!input.IsTensor || input.ElemType != OnnxDataType.Float)
            throw Graph($"input '{input.Name}' has element type {OnnxDataType.Name(input.ElemType)}; NativeNet networks take FLOAT tensors");
        if (input.Dims is not { Count: 2 or 4 } dims)
            throw Graph($"input '{input.Name}' must declare a shape [N, features] or [N, C, H, W], not {(input.Dims is null ? "none" : "[" + string.Join(", ", input.Dims) + "]")}");
        for (int d = 1; d < dims.Count; d++)
            if (dims[d].Value is not (> 0 and <= int.MaxValue))
                throw Graph($"input '{input.Name}' has dimension {d} = {dims[d]}; every dimension but the batch must be a positive number");
        if (dims.Skip(1).Aggregate(1L, (a, d) => a * d.Value!.Value) is var size && size > OnnxModelReader.MaxTensorElements)
            throw Graph($"input '{input.Name}' has {size} values per example; at most {OnnxModelReader.MaxTensorElements} are supported");
        if (g.Outputs.Count != 1) throw Graph($"the graph has {g.Outputs.Count} outputs; NativeNet networks have one");
        var output = g.Outputs[0];

        // Every value is produced once; every node input exists.
        var producer = new Dictionary<string, OnnxNode>();
        foreach (var n in g.Nodes)
            foreach (var o in n.Outputs)
            {
                if (o.Length == 0) continue;
                if (o == input.Name || (n.OpType != "Constant" && constants.ContainsKey(o)) || !producer.TryAdd(o, n))
                    throw At(n, $"output '{o}' is already the name of another value (the graph input, an initializer or another node's output)");
            }
        foreach (var n in g.Nodes)
            foreach (var i in n.Inputs)
                if (i.Length > 0 && i != input.Name && !constants.ContainsKey(i) && !producer.ContainsKey(i))
                    throw At(n, $"input '{i}' is neither an initializer, the graph input nor any node's output (a missing initializer?)");
        if (output.Name != input.Name && !producer.ContainsKey(output.Name) ) throw Graph($"no node produces the graph output '{output.Name}'");

        CheckAcyclic(g, producer, At);

        // Follow the one chain from the input to the output.
        var consumers = new Dictionary<string, List<OnnxNode>>();
        foreach (var n in g.Nodes)
            foreach (var i in n.Inputs.Distinct())
                if (i.Length > 0 && !constants.ContainsKey(i))
                    (consumers.TryGetValue(i, out var list) ? list : consumers[i] = []).Add(n);
        var chain = new List<OnnxNode>();
        string current = input.Name;
        while (true)
        {
            var next = consumers.TryGetValue(current, out var c) ? c : [];
            if (current == output.Name)
            {
                if (next.Count > 0) throw At(next[0], $"reads the graph output '{current}'; the output must be the last value");
                break;
            }
            if (next.Count == 0) throw Graph($"value '{current}' is not the graph output and no node reads it");
            if (next.Count > 1)
                throw Graph($"value '{current}' feeds {next.Count} nodes ({string.Join(", ", next.Select(x => $"'{x.Display}' ({x.OpType})"))}); NativeNet networks are one chain");
            var node = next[0];
            foreach (var i in node.Inputs)
                if (i.Length > 0 && i != current && !constants.ContainsKey(i))
                    throw At(node, $"input '{i}' is not a constant; NativeNet layers take one data input and constant weights");
            for (int o = 1; o < node.Outputs.Count; o++)
                if (node.Outputs[o].Length > 0 && (consumers.ContainsKey(node.Outputs[o]) || node.Outputs[o] == output.Name))
                    throw At(node, $"its output {o} ('{node.Outputs[o]}') is used; NativeNet computes only the first output");
            if (node.Outputs.Count == 0 || node.Outputs[0].Length == 0) throw At(node, "has no output");
            chain.Add(node);
            current = node.Outputs[0];
        }
        var onChain = chain.ToHashSet();
        foreach (var n in g.Nodes)
            if (n.OpType != "Constant" && !onChain.Contains(n))
                throw At(n, "is not on the path from the input to the output; NativeNet networks are one chain");
        return new OnnxChain(input, chain, constants, output, opset);
    }

    /// <summary>Kahn's algorithm over the node dependencies: a node left unsorted lies on (or after) a cycle.</summary>
    private static void CheckAcyclic(OnnxGraph g, Dictionary<string, OnnxNode> producer, Func<OnnxNode, string, OnnxGraphException> at)
    {
        var pending = new Dictionary<OnnxNode, int>();
        var dependents = new Dictionary<OnnxNode, List<OnnxNode>>();
        foreach (var n in g.Nodes)
        {
            int count = 0;
            foreach (var i in n.Inputs.Distinct())
                if (i.Length > 0 && producer.TryGetValue(i, out var p))
                {
                    count++;
                    (dependents.TryGetValue(p, out var list) ? list : dependents[p] = []).Add(n);
                }
            pending[n] = count;
        }
        var ready = new Queue<OnnxNode>(g.Nodes.Where(n => pending[n] == 0));
        int sorted = 0;
        while (ready.TryDequeue(out var n))
        {
            sorted++;
            if (!dependents.TryGetValue(n, out var ds)) continue;
            foreach (var d in ds)
                if (--pending[d] == 0) ready.Enqueue(d);
        }
        if (sorted < g.Nodes.Count)
        {
            var stuck = g.Nodes.First(n => pending[n] > 0);
            throw at(stuck, "lies on or after a cycle: the graph is not acyclic, so no order computes it");
        }
    }
}
