using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeNet.Data;
using NativeNet.Persistence;

namespace NativeNet.Training;

/// <summary>
/// What a checkpoint records besides the weights, as metadata strings: the progress (epoch, optimizer steps, current
/// learning rate, the best epoch so far, the epoch history) and the options that decide the training's path (batch,
/// eta, L2, L1, momentum, Nesterov, seeds, shuffling, training-set size, distortions). Reading checks every field and
/// names the one that is missing or out of range; resuming compares the recorded options with the run's and refuses
/// a difference, naming both values.
/// </summary>
internal sealed class CheckpointState
{
    public int Epoch { get; private init; }
    public ulong Steps { get; private init; }
    public float LearningRate { get; private init; }
    public int BestEpoch { get; private init; }
    public double BestValidation { get; private init; }
    public int SinceBest { get; private init; }
    public double? TestAtBest { get; private init; }
    public List<EpochReport> History { get; private init; } = [];
    private Dictionary<string, string> Options { get; init; } = [];

    /// <summary>The metadata of a checkpoint (with the history) or of a best model (without).</summary>
    public static Dictionary<string, string> Metadata(TrainingOptions o, int trainingImages, int epoch, ulong steps, float learningRate,
        int bestEpoch, double bestValidation, int sinceBest, double? testAtBest, IReadOnlyList<EpochReport>? history)
    {
        var m = RecordedOptions(o, trainingImages);
        m["epoch"] = I(epoch);
        m["steps"] = steps.ToString(CultureInfo.InvariantCulture);
        m["learning_rate"] = learningRate.ToString("R", CultureInfo.InvariantCulture);
        m["best_epoch"] = I(bestEpoch);
        m["best_validation"] = bestValidation.ToString("R", CultureInfo.InvariantCulture);
        m["since_best"] = I(sinceBest);
        m["test_at_best"] = testAtBest?.ToString("R", CultureInfo.InvariantCulture) ?? "";
        if (history is not null) m["history"] = HistoryJson(history);
        return m;
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>The options that decide the path of a run, keyed as the checkpoint stores them, each with the words a message uses.</summary>
    private static Dictionary<string, string> RecordedOptions(TrainingOptions o, int trainingImages) => new(StringComparer.Ordinal)
    {
        ["batch"] = I(o.Sgd.BatchSize),
        ["eta"] = o.Sgd.LearningRate.ToString("R", CultureInfo.InvariantCulture),
        ["lambda"] = o.Sgd.L2.ToString("R", CultureInfo.InvariantCulture),
        ["l1"] = o.Sgd.L1.ToString("R", CultureInfo.InvariantCulture),
        ["momentum"] = o.Sgd.Momentum.ToString("R", CultureInfo.InvariantCulture),
        ["nesterov"] = o.Sgd.Nesterov ? "true" : "false",
        ["seed"] = o.Sgd.Seed.ToString(CultureInfo.InvariantCulture),
        ["shuffle"] = o.Shuffle ? "true" : "false",
        ["shuffle_seed"] = I(o.ShuffleSeed),
        ["training_set_size"] = I(o.Sgd.TrainingSetSize),
        ["training_images"] = I(trainingImages),
        ["distortion"] = Describe(o.Distortion),
    };

    private static readonly Dictionary<string, string> OptionWords = new(StringComparer.Ordinal)
    {
        ["batch"] = "mini-batch size (--batch)", ["eta"] = "learning rate (--eta)", ["lambda"] = "L2 strength (--lambda)",
        ["l1"] = "L1 strength", ["momentum"] = "momentum (--momentum)", ["nesterov"] = "Nesterov momentum", ["seed"] = "seed (--seed)",
        ["shuffle"] = "shuffling", ["shuffle_seed"] = "shuffle seed (--seed)", ["training_set_size"] = "training-set size n of the L2 term",
        ["training_images"] = "number of training images (--train-size, --expand)", ["distortion"] = "distortion (--distort)",
    };

    private static string Describe(DistortionOptions? d) => d is null ? "none" : string.Create(CultureInfo.InvariantCulture,
        $"rotation {d.MaxRotationDegrees:R}, scale {d.MaxScaleChange:R}, shear {d.MaxShear:R}, elastic alpha {d.ElasticAlpha:R} sigma {d.ElasticSigma:R}");

    /// <summary>
    /// Refuses to resume when an option that decides the training's path differs from the checkpoint's, naming both
    /// values. A version-1 checkpoint did not record its options; those are not compared.
    /// </summary>
    public void CheckOptions(string path, TrainingOptions o, int trainingImages)
    {
        foreach (var (key, value) in RecordedOptions(o, trainingImages))
            if (Options.TryGetValue(key, out var recorded) && recorded != value)
                throw new ArgumentException($"Cannot resume from '{path}': it was trained with {OptionWords[key]} {recorded}, this run asks for {value}. " +
                                            "Resume with the same options, or train into a new folder.");
    }

    /// <summary>Reads a checkpoint's progress, options and history, each field checked.</summary>
    public static CheckpointState Read(ModelContents contents)
    {
        var m = contents.Metadata;
        string source = contents.Source;
        long Offset(string key) => contents.MetadataOffsets.TryGetValue(key, out long at) ? at : 8;
        ModelFormatException Bad(string key, string problem) => new(source, Offset(key), problem, "__metadata__." + key);
        string Get(string key) => m.TryGetValue(key, out var v) ? v : throw Bad(key, $"the checkpoint lacks '{key}'.");
        int Int(string key, int min, int max) =>
            int.TryParse(Get(key), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max
                ? v : throw Bad(key, $"'{key}' is \"{m[key]}\"; expected a whole number from {min} to {max}.");
        double Real(string key, double min, double max) =>
            double.TryParse(Get(key), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= min && v <= max
                ? v : throw Bad(key, $"'{key}' is \"{m[key]}\"; expected a number from {min} to {max}.");

        int epoch = Int("epoch", 0, int.MaxValue - 1);
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in OptionWords.Keys)
            if (m.TryGetValue(key, out var v)) options[key] = v;
            else if (contents.Version >= 2) throw Bad(key, $"the checkpoint lacks the option '{key}' that a resumed run is compared with.");
        double testAtBest = Get("test_at_best") == "" ? double.NaN : Real("test_at_best", 0, 1);
        var state = new CheckpointState
        {
            Epoch = epoch,
            Steps = ulong.TryParse(Get("steps"), NumberStyles.None, CultureInfo.InvariantCulture, out ulong steps)
                ? steps : throw Bad("steps", $"'steps' is \"{m["steps"]}\"; expected a whole number from 0 up."),
            LearningRate = (float)Real("learning_rate", double.Epsilon, float.MaxValue),
            BestEpoch = Int("best_epoch", -1, epoch),
            BestValidation = Real("best_validation", -1, 1),
            SinceBest = Int("since_best", 0, epoch),
            TestAtBest = double.IsNaN(testAtBest) ? null : testAtBest,
            History = m.ContainsKey("history") ? ReadHistory(source, Offset("history"), m["history"], epoch)
                : contents.Version >= 2 ? throw Bad("history", "the checkpoint lacks its epoch 'history'.") : [],
            Options = options,
        };
        return state;
    }

    private static string HistoryJson(IReadOnlyList<EpochReport> history)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var r in history)
            {
                json.WriteStartObject();
                json.WriteNumber("epoch", r.Epoch);
                Number(json, "training_cost", r.TrainingCost);
                Number(json, "training_accuracy", r.TrainingAccuracy);
                Number(json, "validation_cost", r.ValidationCost);
                Number(json, "validation_accuracy", r.ValidationAccuracy);
                Number(json, "test_accuracy", r.TestAccuracy);
                Number(json, "learning_rate", r.LearningRate);
                Number(json, "seconds", r.Seconds);
                Number(json, "images_per_second", r.ImagesPerSecond);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A finite number, or null (absent, or not finite: JSON has no NaN).</summary>
    private static void Number(Utf8JsonWriter json, string name, double? value)
    {
        if (value is double v && double.IsFinite(v)) json.WriteNumber(name, v);
        else json.WriteNull(name);
    }

    /// <summary>The epoch reports of epochs 1..<paramref name="epochs"/>, in order, each field of the right type.</summary>
    private static List<EpochReport> ReadHistory(string source, long offset, string text, int epochs)
    {
        const string field = "__metadata__.history";
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 4 }); }
        catch (JsonException e) { throw new ModelFormatException(source, offset, $"'history' is not valid JSON: {e.Message}", field); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array || doc.RootElement.GetArrayLength() != epochs)
                throw new ModelFormatException(source, offset, $"'history' must be an array of {epochs} epoch reports (one per epoch trained).", field);
            var history = new List<EpochReport>(epochs);
            int index = 0;
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                string at = $"{field}[{index}]";
                if (e.ValueKind != JsonValueKind.Object) throw new ModelFormatException(source, offset, "each history entry must be an object.", at);
                double? Optional(string name) => !e.TryGetProperty(name, out var p)
                    ? throw new ModelFormatException(source, offset, $"the history entry lacks '{name}'.", $"{at}.{name}")
                    : p.ValueKind == JsonValueKind.Null ? null
                    : p.ValueKind == JsonValueKind.Number && p.TryGetDouble(out double d) ? d
                    : throw new ModelFormatException(source, offset, $"'{name}' is {p.ValueKind}; expected a number or null.", $"{at}.{name}");
                double Required(string name) => Optional(name) ?? throw new ModelFormatException(source, offset, $"'{name}' is null; expected a number.", $"{at}.{name}");
                if (Required("epoch") != index + 1)
                    throw new ModelFormatException(source, offset, $"entry {index} is for epoch {e.GetProperty("epoch")}; expected epoch {index + 1}.", $"{at}.epoch");
                history.Add(new EpochReport(index + 1, Optional("training_cost"), Optional("training_accuracy"), Required("validation_cost"),
                    Required("validation_accuracy"), Optional("test_accuracy"), (float)Required("learning_rate"), Required("seconds"), Required("images_per_second")));
                index++;
            }
            return history;
        }
    }
}
