using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Specs;

namespace FlexNet.Tests.Specs;

/// <summary>One defect at a time in a small YAML spec, each expecting the whole message: the file, the JSON path, the
/// line, and every word and number of the sentence. The older spec tests assert fragments, which let a changed bound,
/// a dropped line number or a wrong path in a message go through.</summary>
public sealed class SpecMessageTests
{
    /// <summary>TrainingSpecTests' small network: lines 1 to 10 (inputs on 2-3, layers 4-6, connections 7-9, outputs 10); an
    /// appended key is on line 11.</summary>
    private const string Base = TrainingSpecTests.Mlp;

    private const string End = "outputs: [y]";

    private static string Message(string text, string file = "s.yaml") =>
        Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse(text, file)).Message;

    private static string Appended(string yaml) => Base.Replace(End, End + "\n" + yaml, StringComparison.Ordinal);

    private static string Max => TrainingSpec.MaxLayerElements.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>(text replaced, its replacement, the message after the file name). The theory runs over indices into this
    /// table, not over the texts: Stryker's test runner could not find theory rows whose arguments hold line breaks, and
    /// reported mutants as surviving tests that never ran.</summary>
    private static readonly (string Old, string Edit, string Expected)[] EditCases =
    [
        // top level
        (End, End + "\ncolor: red", "$.color (line 11): unknown key 'color'. Allowed here: name, description, seed, steps, inputs, layers, connections, outputs, loss, optimizer, epochs, batch, validation_split, data, metrics, schedule, regularizers, early_stopping, checkpoint, model."),
        (End, End + "\nseed: -1", "$.seed (line 11): 'seed' must be non-negative (from 0 to 9223372036854775807); it is -1."),
        (End, End + "\nepochs: 0", "$.epochs (line 11): 'epochs' must be positive (from 1 to 1000000); it is 0."),
        (End, End + "\nepochs: 1000001", "$.epochs (line 11): 'epochs' must be from 1 to 1000000; it is 1000001."),
        (End, End + "\nepochs: 2.5", "$.epochs (line 11): 'epochs' must be a whole number, found the number 2.5."),
        (End, End + "\nepochs: '2'", "$.epochs (line 11): 'epochs' must be a whole number, found the text '2'."),
        (End, End + "\nepochs: 1e16", "$.epochs (line 11): 'epochs' must be a whole number, found the number 10000000000000000."),
        // a whole number written as a float is read as one below 9e15 (where doubles still hold every integer), not at it
        (End, End + "\nepochs: 9e15", "$.epochs (line 11): 'epochs' must be a whole number, found the number 9000000000000000."),
        (End, End + "\nepochs: 8.999e15", "$.epochs (line 11): 'epochs' must be from 1 to 1000000; it is 8999000000000000."),
        (End, End + "\nbatch: 1048577", "$.batch (line 11): 'batch' must be from 1 to 1048576; it is 1048577."),
        (End, End + "\nvalidation_split: 0.995", "$.validation_split (line 11): 'validation_split' must be between 0 and 0.99; it is 0.995."),
        (End, End + "\nvalidation_split: -0.5", "$.validation_split (line 11): 'validation_split' must be between 0 and 0.99; it is -0.5."),
        (End, End + "\nvalidation_split: yes", "$.validation_split (line 11): 'validation_split' must be a number, found the text 'yes'."),
        (End, End + "\nvalidation_split: [0.1]", "$.validation_split (line 11): 'validation_split' must be a number, found a list."),
        (End, End + "\nmodel: {kind: classifier, layers: [4, 2]}", "$.inputs (line 3): give 'model' (theanets layer specs) or inputs/layers/connections/outputs, not both; 'inputs' is set."),
        (End, End + "\nsteps: 0", "$.steps (line 11): 'steps' must be positive (from 1 to 10000); it is 0."),

        // inputs
        ("inputs:\n  - {name: x, size: 4}", "inputs: []", "$.inputs (line 2): a spec needs at least one input."),
        ("inputs:\n  - {name: x, size: 4}", "inputs: 5", "$.inputs (line 2): 'inputs' must be a list, found the number 5."),
        ("inputs:\n  - {name: x, size: 4}", "inputs: {x: 4}", "$.inputs (line 2): 'inputs' must be a list, found an object."),
        ("inputs:\n  - {name: x, size: 4}", "", "$.inputs (line 1): 'inputs' is missing; it must be a list."),
        ("{name: x, size: 4}", "{name: x, size: 4, units: 2}", "$.inputs[0].units (line 3): unknown key 'units'. Allowed here: name, size, shape, sequence_length."),
        ("{name: x, size: 4}", "x", "$.inputs[0] (line 3): expected an object (key: value pairs), found the text 'x'."),
        ("{name: x, size: 4}", "~", "$.inputs[0] (line 3): expected an object (key: value pairs), found nothing."),
        ("{name: x, size: 4}", "[x, 4]", "$.inputs[0] (line 3): expected an object (key: value pairs), found a list."),
        ("{name: x, size: 4}", "true", "$.inputs[0] (line 3): expected an object (key: value pairs), found true."),
        ("{name: x, size: 4}", "{size: 4}", "$.inputs[0].name (line 3): 'name' is missing."),
        ("{name: x, size: 4}", "{name: '', size: 4}", "$.inputs[0].name (line 3): a name must have 1 to 128 characters."),
        ("{name: x, size: 4}", "{name: " + new string('n', 129) + ", size: 4}", "$.inputs[0].name (line 3): a name must have 1 to 128 characters."),
        ("{name: x, size: 4}", "{name: 5, size: 4}", "$.inputs[0].name (line 3): expected a name, found the number 5."),
        ("{name: x, size: 4}", "{name: x, size: 4, sequence_length: 0}", "$.inputs[0].sequence_length (line 3): 'sequence_length' must be positive (from 1 to 100000); it is 0."),
        ("{name: x, size: 4}", "{name: x, size: 4, sequence_length: 100001}", "$.inputs[0].sequence_length (line 3): 'sequence_length' must be from 1 to 100000; it is 100001."),
        ("{name: x, size: 4}", "{name: h, size: 4}", "$.layers[0].name (line 5): the name 'h' is already used at $.inputs[0]."),
        ("{name: x, size: 4}", "{name: x, size: 4, shape: [4]}", "$.inputs[0].shape (line 3): give 'size' or 'shape', not both."),
        ("{name: x, size: 4}", "{name: x, shape: []}", "$.inputs[0].shape (line 3): a shape has 1 to 4 dimensions; it has 0."),
        ("{name: x, size: 4}", "{name: x, shape: [1, 1, 1, 1, 4]}", "$.inputs[0].shape (line 3): a shape has 1 to 4 dimensions; it has 5."),
        ("{name: x, size: 4}", "{name: x, shape: [2, 0]}", "$.inputs[0].shape[1] (line 3): a dimension must be a whole number from 1 to 16777216, found the number 0."),
        ("{name: x, size: 4}", "{name: x, shape: [16777217]}", "$.inputs[0].shape[0] (line 3): a dimension must be a whole number from 1 to 16777216, found the number 16777217."),
        ("{name: x, size: 4}", "{name: x, shape: [2, two]}", "$.inputs[0].shape[1] (line 3): a dimension must be a whole number from 1 to 16777216, found the text 'two'."),
        ("{name: x, size: 4}", "{name: x, shape: [4096, 4097]}", "$.inputs[0].shape (line 3): the shape has 16781312 elements; at most 16777216 are allowed."),
        ("{name: x, size: 4}", "{name: x, shape: 4}", "$.inputs[0].shape (line 3): 'shape' must be a list of dimensions, found the number 4."),
        ("{name: x, size: 4}", "{name: x}", "$.inputs[0].size (line 3): 'size' (or 'shape') is missing."),
        ("{name: x, size: 4}", "{name: x, size: 0}", "$.inputs[0].size (line 3): 'size' must be positive (from 1 to 16777216); it is 0."),
        ("{name: x, size: 4}", "{name: x, size: 16777217}", "$.inputs[0].size (line 3): 'size' must be from 1 to 16777216; it is 16777217."),

        // layers
        ("layers:\n  - {name: h, size: 3, activation: tanh}\n  - {name: y, size: 2}", "", "$.layers (line 1): 'layers' is missing; it must be a list."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, size: 3, activation: tanh, units: 3}", "$.layers[0].units (line 5): unknown key 'units'. Allowed here: name, kind, size, shape, activation, combine, bias."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, size: 3, combine: max}", "$.layers[0].combine (line 5): unknown combine rule 'max'. Registered: sum, product, concat."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, size: 3, combine: 7}", "$.layers[0].combine (line 5): expected a name, found the number 7."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, size: 3, combine: A.B}", "$.layers[0].combine (line 5): 'A.B' looks like a .NET type name; a spec names a registered combine rule by its short name. FlexNet never loads a type named in a file."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, size: 3, bias: 1}", "$.layers[0].bias (line 5): 'bias' must be true or false, found the number 1."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, size: 3, activation: System.Math}", "$.layers[0].activation (line 5): 'System.Math' looks like a .NET type name; a spec names a registered activation by its short name. FlexNet never loads a type named in a file."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, size: 3, activation: 'Sys.Tanh, FlexNet'}", "$.layers[0].activation (line 5): 'Sys.Tanh, FlexNet' looks like a .NET type name; a spec names a registered activation by its short name. FlexNet never loads a type named in a file."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, size: 3, activation: _a._b9}", "$.layers[0].activation (line 5): '_a._b9' looks like a .NET type name; a spec names a registered activation by its short name. FlexNet never loads a type named in a file."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, size: 3, activation: 'List`1'}", "$.layers[0].activation (line 5): 'List`1' looks like a .NET type name; a spec names a registered activation by its short name. FlexNet never loads a type named in a file."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, size: 3, activation: 'x Version=1'}", "$.layers[0].activation (line 5): 'x Version=1' looks like a .NET type name; a spec names a registered activation by its short name. FlexNet never loads a type named in a file."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: pool, pool: min}", "$.layers[0].pool (line 5): unknown pooling 'min'. Registered: max, avg."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: pool, size: 3}", "$.layers[0].size (line 5): unknown key 'size'. Allowed here: name, kind, pool, window, stride, padding, dims, global."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: pool, window: 0}", "$.layers[0].window (line 5): 'window' must be positive (from 1 to 1024); it is 0."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: pool, stride: 1025}", "$.layers[0].stride (line 5): 'stride' must be from 1 to 1024; it is 1025."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: pool, padding: -1}", "$.layers[0].padding (line 5): 'padding' must be non-negative (from 0 to 1024); it is -1."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: pool, dims: 3}", "$.layers[0].dims (line 5): 'dims' must be from 1 to 2; it is 3."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: pool, global: yes}", "$.layers[0].global (line 5): 'global' must be true or false, found the text 'yes'."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: flatten, size: 3}", "$.layers[0].size (line 5): unknown key 'size'. Allowed here: name, kind."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: reshape}", "$.layers[0].shape (line 5): 'shape' is missing."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: reshape, size: 3}", "$.layers[0].size (line 5): unknown key 'size'. Allowed here: name, kind, shape."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: A.B}", "$.layers[0].kind (line 5): 'A.B' looks like a .NET type name; a spec names a registered layer kind by its short name. FlexNet never loads a type named in a file."),
        ("{name: h, size: 3, activation: tanh}", "{name: x, kind: dropout, inputs: [x], rate: 0.5}", "$.layers[0].name (line 5): the name 'x' is already used at $.inputs[0]."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, rate: 0.5}", "$.layers[0].inputs (line 5): 'inputs' is missing; it must be a list."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, inputs: [q], rate: 0.5}", "$.layers[0].inputs[0] (line 5): no earlier layer or input is named 'q'. Declared: x."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, inputs: [x], rate: [1, -1]}", "$.layers[0].rate[1] (line 5): expected a whole number from 0 to 16777216, found the number -1."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, inputs: [x], rate: []}", "$.layers[0].rate (line 5): a form's argument must be text, a number, true/false or a list of whole numbers; found a list."),
        // a list of 1 to 8 whole numbers from 0 to 2^24 reaches the form (which wants a number here); 9 do not
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, inputs: [x], rate: [1, 2, 3, 4, 5, 6, 7, 8]}", "$.layers[0] (line 5): 'rate' must be a number; got [1, 2, 3, 4, 5, 6, 7, 8]."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, inputs: [x], rate: [0, 16777216]}", "$.layers[0] (line 5): 'rate' must be a number; got [0, 16777216]."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, inputs: [x], rate: [1, 2, 3, 4, 5, 6, 7, 8, 9]}", "$.layers[0].rate (line 5): a form's argument must be text, a number, true/false or a list of whole numbers; found a list."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, inputs: [x], rate: [0, 16777217]}", "$.layers[0].rate[1] (line 5): expected a whole number from 0 to 16777216, found the number 16777217."),
        // whole numbers at and beyond int's range reach the form as numbers (as an int within it, as a double beyond)
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, inputs: [x], rate: 2147483648}", "$.layers[0] (line 5): 'rate' must be in [0, 1); got 2147483648."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, inputs: [x], rate: -2147483649}", "$.layers[0] (line 5): 'rate' must be in [0, 1); got -2147483649."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dense, inputs: [x], size: 2147483648}", "$.layers[0] (line 5): 'size' must be an integer; got 2147483648."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dense, inputs: [x], size: -2147483648}", "$.layers[0] (line 5): 'size' must be positive; got -2147483648."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dense, inputs: [x], size: 2147483647, activation: nope}", "$.layers[0] (line 5): unknown activation 'nope'. Known: " + string.Join(", ", Activations.Names) + "."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, inputs: [x], rate: 2}", "$.layers[0] (line 5): 'rate' must be in [0, 1); got 2."),
        ("{name: h, size: 3, activation: tanh}", "{name: h, kind: dense, inputs: [x]}", "$.layers[0] (line 5): missing 'size' (a positive integer)."),
        ("connections:\n  - {from: x, to: h}\n  - {from: h, to: y}\n", "", "$.connections (line 1): 'connections' is missing; it must be a list."),
        ("outputs: [y]", "", "$.outputs (line 1): 'outputs' is missing; it must be a list."),
        ("{name: h, size: 3, activation: tanh}", "{name: y, size: 3}", "$.layers[1].name (line 6): the name 'y' is already used at $.layers[0]."),

        // connections
        ("{from: x, to: h}", "{kind: lstm, from: x, to: h}", "$.connections[0].kind (line 8): unknown connection kind 'lstm'. Registered: dense, conv2d, convtranspose2d, identity, elementwise, tied."),
        ("{from: x, to: h}", "{kind: DENSE, from: x, to: h, kernel: 3}", "$.connections[0].kernel (line 8): unknown key 'kernel'. Allowed here: kind, from, to, delay, bias, name."),
        ("{from: x, to: h}", "{kind: identity, from: x, to: h, bias: true}", "$.connections[0].bias (line 8): unknown key 'bias'. Allowed here: kind, from, to, delay, name."),
        ("{from: x, to: h}", "{kind: elementwise, from: x, to: h, kernel: 3}", "$.connections[0].kernel (line 8): unknown key 'kernel'. Allowed here: kind, from, to, delay, bias, name."),
        ("{from: x, to: h}", "{kind: conv2d, from: x, to: h, output_padding: 1}", "$.connections[0].output_padding (line 8): unknown key 'output_padding'. Allowed here: kind, from, to, delay, bias, name, kernel, stride, padding, dilation, channels."),
        ("{from: x, to: h}", "{kind: convtranspose2d, from: x, to: h, partner: p}", "$.connections[0].partner (line 8): unknown key 'partner'. Allowed here: kind, from, to, delay, bias, name, kernel, stride, padding, dilation, channels, output_padding."),
        ("{from: x, to: h}", "{kind: tied, from: x, to: h, kernel: 3}", "$.connections[0].kernel (line 8): unknown key 'kernel'. Allowed here: kind, from, to, delay, bias, name, partner."),
        ("{from: h, to: y}", "{from: h, to: x, delay: 1}", "$.connections[1].to (line 9): 'x' is an input; a connection cannot feed an input."),
        ("{from: x, to: h}", "{to: h}", "$.connections[0].from (line 8): 'from' is missing; it names a layer or input."),
        ("{from: x, to: h}", "{from: x}", "$.connections[0].to (line 8): 'to' is missing; it names a layer or input."),
        ("{from: x, to: h}", "{from: q, to: h}", "$.connections[0].from (line 8): no layer or input is named 'q'. Declared: x, h, y."),
        ("{from: x, to: h}", "{from: x, to: h, delay: 10001}", "$.connections[0].delay (line 8): 'delay' must be from 0 to 10000; it is 10001."),
        ("{from: x, to: h}", "{from: x, to: h, delay: -1}", "$.connections[0].delay (line 8): 'delay' must be non-negative (from 0 to 10000); it is -1."),
        ("{from: x, to: h}\n  - {from: h, to: y}", "{from: x, to: h, name: c}\n  - {from: h, to: y, name: c}", "$.connections[1].name (line 9): connection name 'c' is already used at $.connections[0]."),
        ("{from: x, to: h}", "{kind: identity, from: x, to: h}", "$.connections[0] (line 8): shapes do not fit: 'x' is [4] but 'h' is [3]; this connection needs equal shapes."),
        ("{from: x, to: h}", "{kind: elementwise, from: x, to: h}", "$.connections[0] (line 8): shapes do not fit: 'x' is [4] but 'h' is [3]; this connection needs equal shapes."),
        ("{from: h, to: y}", "{kind: tied, from: h, to: y}", "$.connections[1].partner (line 9): a tied connection needs 'partner': the name of an earlier dense connection whose weight it shares."),
        ("{from: h, to: y}", "{kind: tied, from: h, to: y, partner: z}", "$.connections[1].partner (line 9): no earlier connection is named 'z'. Named connections: ."),
        ("{from: x, to: h}", "{kind: conv2d, from: x, to: h}", "$.connections[0].kernel (line 8): a convolution needs 'kernel' (the kernel size)."),
        ("{from: x, to: h}", "{kind: conv2d, from: x, to: h, kernel: 65}", "$.connections[0].kernel (line 8): 'kernel' must be from 1 to 64; it is 65."),
        ("{from: x, to: h}", "{kind: conv2d, from: x, to: h, kernel: 3}", "$.connections[0].from (line 8): a conv2d connection needs a [channels, height, width] source; 'x' has shape [4]."),
        ("{from: x, to: h}", "{kind: conv2d, from: x, to: h, kernel: 3, stride: 0}", "$.connections[0].stride (line 8): 'stride' must be positive (from 1 to 64); it is 0."),
        ("{from: x, to: h}", "{kind: conv2d, from: x, to: h, kernel: 3, dilation: 0}", "$.connections[0].dilation (line 8): 'dilation' must be positive (from 1 to 64); it is 0."),
        ("{from: x, to: h}", "{kind: conv2d, from: x, to: h, kernel: 3, channels: 0}", "$.connections[0].channels (line 8): 'channels' must be positive (from 1 to 65536); it is 0."),
        ("{from: h, to: y}", "{from: h, to: y}\n  - {from: y, to: h}", "$.connections[2] (line 10): a cycle with delay 0: h → y → h. A recurrent connection needs 'delay: 1' or more."),
        ("{from: h, to: y}", "{from: h, to: y}\n  - {from: y, to: y}", "$.connections[2] (line 10): a cycle with delay 0: y → y. A recurrent connection needs 'delay: 1' or more."),

        // outputs
        (End, "outputs: []", "$.outputs (line 10): a spec needs at least one output."),
        (End, "outputs: [z]", "$.outputs[0] (line 10): no layer is named 'z'. Layers: x, h, y."),
        (End, "outputs: [3]", "$.outputs[0] (line 10): expected a name, found the number 3."),
        (End, "outputs: [{layer: y, mode: every}]", "$.outputs[0].mode (line 10): unknown output mode 'every'. Registered: last, all."),
        (End, "outputs: [{layer: y, when: 1}]", "$.outputs[0].when (line 10): unknown key 'when'. Allowed here: layer, mode."),
        (End, "outputs: [{mode: all}]", "$.outputs[0].layer (line 10): 'layer' is missing; it names a layer or input."),
        (End, "outputs: [[y]]", "$.outputs[0] (line 10): expected an object (key: value pairs), found a list."),

        // loss, metrics, optimizer
        (End, End + "\nloss: A.B", "$.loss (line 11): 'A.B' looks like a .NET type name; a spec names a registered loss by its short name. FlexNet never loads a type named in a file."),
        (End, End + "\nmetrics: [5]", "$.metrics[0] (line 11): expected a name, found the number 5."),
        (End, End + "\nmetrics: acc", "$.metrics (line 11): 'metrics' must be a list, found the text 'acc'."),
        (End, End + "\nmetrics: [acc, A.B]", "$.metrics[1] (line 11): 'A.B' looks like a .NET type name; a spec names a registered metric by its short name. FlexNet never loads a type named in a file."),
        (End, End + "\noptimizer: {lr: 0.1}", "$.optimizer.name (line 11): the optimizer needs a 'name' (sgd, adam, adamw, rmsprop, adagrad, adadelta, rprop)."),
        (End, End + "\noptimizer: {name: sgd, speed: 1}", "$.optimizer.speed (line 11): unknown optimizer setting 'speed'. Known: lr, momentum, dampening, nesterov, weight_decay, betas, eps, alpha, centered, lr_decay, initial_accumulator_value, rho, etas, step_sizes."),
        (End, End + "\noptimizer: {name: sgd, lr: fast}", "$.optimizer.lr (line 11): expected a number, found the text 'fast'."),
        (End, End + "\noptimizer: {name: adam, betas: [0.9, x]}", "$.optimizer.betas[1] (line 11): expected a number, found the text 'x'."),
        (End, End + "\noptimizer: {name: A.B}", "$.optimizer.name (line 11): 'A.B' looks like a .NET type name; a spec names a registered optimizer by its short name. FlexNet never loads a type named in a file."),
        (End, End + "\noptimizer: A.B", "$.optimizer (line 11): 'A.B' looks like a .NET type name; a spec names a registered optimizer by its short name. FlexNet never loads a type named in a file."),
        (End, End + "\noptimizer: 3", "$.optimizer (line 11): expected a name, found the number 3."),
        (End, End + "\noptimizer: [sgd]", "$.optimizer (line 11): expected an object (key: value pairs), found a list."),

        // training sections
        (End, End + "\nschedule: []", "$.schedule (line 11): a list of schedules has 1 to 8 entries; it has 0."),
        (End, End + "\nschedule: [" + string.Join(", ", Enumerable.Repeat("{kind: constant}", 9)) + "]", "$.schedule (line 11): a list of schedules has 1 to 8 entries; it has 9."),
        (End, End + "\nschedule: {gamma: 0.5}", "$.schedule.kind (line 11): 'kind' is missing (constant, step, exponential, cosine, warmup)."),
        (End, End + "\nschedule: [{kind: constant}, {gamma: 0.5}]", "$.schedule[1].kind (line 11): 'kind' is missing (constant, step, exponential, cosine, warmup)."),
        (End, End + "\nschedule: {kind: linear}", "$.schedule.kind (line 11): unknown schedule 'linear'. Registered: constant, step, exponential, cosine, warmup."),
        (End, End + "\nschedule: {kind: step}", "$.schedule.step_size (line 11): 'step_size' (optimizer steps between decays) is missing."),
        (End, End + "\nschedule: {kind: step, step_size: 0}", "$.schedule.step_size (line 11): 'step_size' must be positive (from 1 to 9223372036854775807); it is 0."),
        (End, End + "\nschedule: {kind: step, step_size: 2, gamma: -1}", "$.schedule.gamma (line 11): 'gamma' must be between 0 and 1000000; it is -1."),
        (End, End + "\nschedule: {kind: exponential}", "$.schedule.gamma (line 11): 'gamma' (the factor per optimizer step) is missing."),
        (End, End + "\nschedule: {kind: exponential, gamma: 1000001}", "$.schedule.gamma (line 11): 'gamma' must be between 0 and 1000000; it is 1000001."),
        (End, End + "\nschedule: {kind: cosine}", "$.schedule.total_steps (line 11): 'total_steps' (optimizer steps of the decay) is missing."),
        (End, End + "\nschedule: {kind: cosine, total_steps: 5, min_factor: 1.5}", "$.schedule.min_factor (line 11): 'min_factor' must be between 0 and 1; it is 1.5."),
        (End, End + "\nschedule: {kind: warmup}", "$.schedule.steps (line 11): 'steps' (optimizer steps of the warm-up) is missing."),
        (End, End + "\nschedule: {kind: warmup, steps: 5, start_factor: -0.5}", "$.schedule.start_factor (line 11): 'start_factor' must be between 0 and 1; it is -0.5."),
        (End, End + "\nschedule: {kind: constant, gamma: 1}", "$.schedule.gamma (line 11): unknown key 'gamma'. Allowed here: kind."),
        (End, End + "\nschedule: {kind: step, step_size: 2, steps: 1}", "$.schedule.steps (line 11): unknown key 'steps'. Allowed here: kind, step_size, gamma."),
        (End, End + "\nschedule: {kind: exponential, gamma: 0.5, steps: 1}", "$.schedule.steps (line 11): unknown key 'steps'. Allowed here: kind, gamma."),
        (End, End + "\nschedule: {kind: cosine, total_steps: 5, steps: 1}", "$.schedule.steps (line 11): unknown key 'steps'. Allowed here: kind, total_steps, min_factor."),
        (End, End + "\nschedule: {kind: warmup, steps: 5, gamma: 1}", "$.schedule.gamma (line 11): unknown key 'gamma'. Allowed here: kind, steps, start_factor."),
        (End, End + "\nregularizers: [{kind: weight_l2}]", "$.regularizers[0].weight (line 11): 'weight' (the penalty's factor in the loss) is missing."),
        (End, End + "\nregularizers: [{weight: 1}]", "$.regularizers[0].kind (line 11): 'kind' is missing (weight_l2, weight_l1, hidden_l1)."),
        (End, End + "\nregularizers: [{kind: l2, weight: 1}]", "$.regularizers[0].kind (line 11): unknown regularizer 'l2'. Registered: weight_l2, weight_l1, hidden_l1."),
        (End, End + "\nregularizers: [{kind: weight_l2, weight: 1, pattern: ''}]", "$.regularizers[0].pattern (line 11): a pattern has 1 to 256 characters."),
        (End, End + "\nregularizers: [{kind: weight_l2, weight: 1, pattern: " + new string('p', 257) + "}]", "$.regularizers[0].pattern (line 11): a pattern has 1 to 256 characters."),
        (End, End + "\nregularizers: [{kind: weight_l2, weight: 1000001}]", "$.regularizers[0].weight (line 11): 'weight' must be between 0 and 1000000; it is 1000001."),
        (End, End + "\nregularizers: [{kind: weight_l2, weight: 1, scale: 2}]", "$.regularizers[0].scale (line 11): unknown key 'scale'. Allowed here: kind, weight, pattern."),
        (End, End + "\nregularizers: [" + string.Join(", ", Enumerable.Repeat("{kind: weight_l2, weight: 1}", 65)) + "]", "$.regularizers (line 11): a spec may have at most 64 regularizers; it has 65."),
        (End, End + "\nearly_stopping: {monitor: ''}", "$.early_stopping.monitor (line 11): 'monitor' names a history key such as val_loss or val_acc."),
        (End, End + "\nearly_stopping: {monitor: " + new string('m', 65) + "}", "$.early_stopping.monitor (line 11): 'monitor' names a history key such as val_loss or val_acc."),
        (End, End + "\nearly_stopping: {mode: up}", "$.early_stopping.mode (line 11): unknown mode 'up'. Registered: auto, min, max."),
        (End, End + "\nearly_stopping: {patience: -1}", "$.early_stopping.patience (line 11): 'patience' must be non-negative (from 0 to 1000000); it is -1."),
        (End, End + "\nearly_stopping: {min_delta: -1}", "$.early_stopping.min_delta (line 11): 'min_delta' must be between 0 and 1.7976931348623157E+308; it is -1."),
        (End, End + "\nearly_stopping: {wait: 1}", "$.early_stopping.wait (line 11): unknown key 'wait'. Allowed here: monitor, patience, min_delta, restore_best_weights, mode."),
        (End, End + "\nearly_stopping: 5", "$.early_stopping (line 11): expected an object (key: value pairs), found the number 5."),
        (End, End + "\ncheckpoint: {every: 2}", "$.checkpoint.path (line 11): 'path' (the checkpoint file) is missing."),
        (End, End + "\ncheckpoint: {path: ''}", "$.checkpoint.path (line 11): 'path' is empty."),
        (End, End + "\ncheckpoint: {path: c.ckpt, every: 0}", "$.checkpoint.every (line 11): 'every' must be positive (from 1 to 1000000); it is 0."),
        (End, End + "\ncheckpoint: {path: c.ckpt, when: 1}", "$.checkpoint.when (line 11): unknown key 'when'. Allowed here: path, every."),

        // data
        (End, End + "\ndata: {fashion_mnist: d, train: {x: a, y: b}}", "$.data.train (line 11): give 'fashion_mnist' or 'train', not both."),
        (End, End + "\ndata: {limit: 5}", "$.data (line 11): the data section needs 'fashion_mnist: DIR' or 'train: {x: FILE, y: FILE}'."),
        (End, End + "\ndata: {train: {y: b}}", "$.data.train.x (line 11): 'x' (the inputs file: IDX, NPY or CSV) is missing."),
        (End, End + "\ndata: {train: {x: a}}", "$.data.train.y (line 11): 'y' (the labels file) is missing; it may be left out only with 'target: input'."),
        (End, End + "\ndata: {train: {x: a, y: b}, test: {x: c}}", "$.data.test.y (line 11): 'y' (the labels file) is missing; it may be left out only with 'target: input'."),
        (End, End + "\ndata: {train: {x: a, y: b, w: c}}", "$.data.train.w (line 11): unknown key 'w'. Allowed here: x, y."),
        (End, End + "\ndata: {train: {x: a, y: b}, target: both}", "$.data.target (line 11): unknown target 'both'. Registered: labels, input."),
        (End, End + "\ndata: {train: {x: a, y: b}, limit: 0}", "$.data.limit (line 11): 'limit' must be positive (from 1 to 2147483647); it is 0."),
        (End, End + "\ndata: {train: {x: a, y: b}, shuffle: true}", "$.data.shuffle (line 11): unknown key 'shuffle'. Allowed here: fashion_mnist, train, test, limit, target."),
        (End, End + "\ndata: [a]", "$.data (line 11): expected an object (key: value pairs), found a list."),
    ];

    public static TheoryData<int> Edits() => new(Enumerable.Range(0, EditCases.Length));

    [Theory]
    [MemberData(nameof(Edits))]
    public void OneDefectGivesItsWholeMessage(int index) => AssertEdit(Base, EditCases[index]);

    /// <summary>Makes one edit in <paramref name="text"/> (which must hold the replaced text) and expects the whole message.</summary>
    private static void AssertEdit(string text, (string Old, string Edit, string Expected) c)
    {
        Assert.Contains(c.Old, text, StringComparison.Ordinal);
        Assert.Equal("s.yaml: " + c.Expected, Message(text.Replace(c.Old, c.Edit, StringComparison.Ordinal)));
    }

    [Fact]
    public void AJsonSpecHasNoLineNumbersAndALongTextIsCutAtSixtyCharacters()
    {
        string json = """{"name": "t", "inputs": [{"name": "x", "size": 4}], "layers": [{"name": "h", "size": 3}], "connections": [{"from": "x", "to": "h"}], "outputs": ["h"], "epochs": "EPOCHS"}""";
        Assert.Equal("s.json: $.epochs: 'epochs' must be a whole number, found the text '" + new string('e', 60) + "…'.",
            Message(json.Replace("EPOCHS", new string('e', 61), StringComparison.Ordinal), "s.json"));
        Assert.Equal("s.json: $.epochs: 'epochs' must be a whole number, found the text '" + new string('e', 60) + "'.",
            Message(json.Replace("EPOCHS", new string('e', 60), StringComparison.Ordinal), "s.json"));
        Assert.Equal("s.json: $.epochs: 'epochs' must be a whole number, found false.",
            Message(json.Replace("\"EPOCHS\"", "false", StringComparison.Ordinal), "s.json"));
    }

    [Fact]
    public void ANumberBeyondDoubleIsNotAFormArgument()
    {
        // JSON's 1e999 is a number token whose value is not finite: the form never sees it
        string json = """{"inputs": [{"name": "x", "size": 4}], "layers": [{"name": "h", "kind": "dropout", "inputs": ["x"], "rate": RATE}], "connections": [], "outputs": ["h"]}""";
        Assert.Equal("s.json: $.layers[0].rate: a form's argument must be text, a number, true/false or a list of whole numbers; found the number 1e999.",
            Message(json.Replace("RATE", "1e999", StringComparison.Ordinal), "s.json"));
        Assert.Equal("s.json: $.layers[0]: 'rate' must be in [0, 1); got 1E+300.", Message(json.Replace("RATE", "1e300", StringComparison.Ordinal), "s.json"));
    }

    [Fact]
    public void AModelSpecRefusesEachGraphKey()
    {
        const string model = "model: {kind: classifier, layers: [4, 2]}";
        foreach (var (key, value) in new[] { ("inputs", "[]"), ("layers", "[]"), ("connections", "[]"), ("outputs", "[y]"), ("steps", "3") })
            Assert.Equal($"s.yaml: $.{key} (line 2): give 'model' (theanets layer specs) or inputs/layers/connections/outputs, not both; '{key}' is set.",
                Message($"{model}\n{key}: {value}"));
    }

    [Fact]
    public void ListsOfRegisteredNamesAreTheLibrarysOwn()
    {
        // the lists come from the registries; each message is whole apart from the list, which is checked against them
        Assert.Equal("s.yaml: $.layers[0].activation (line 5): unknown activation 'tanhh'. Registered: " + string.Join(", ", Activations.Names.Order(StringComparer.Ordinal)) + ".",
            Message(Base.Replace("activation: tanh", "activation: tanhh", StringComparison.Ordinal)));
        Assert.Contains("tanh", Activations.Names);
        Assert.Equal("s.yaml: $.layers[0].kind (line 5): unknown layer kind 'blob'. Registered: layer, pool, flatten, reshape, and the catalog forms " + string.Join(", ", LayerRegistry.Names) + ".",
            Message(Base.Replace("{name: h, size: 3, activation: tanh}", "{name: h, kind: blob}", StringComparison.Ordinal)));
        Assert.Equal("s.yaml: $.loss (line 11): unknown loss 'hinge2'. Registered: " + string.Join(", ", Loss.RegisteredNames) + ".", Message(Appended("loss: hinge2")));
        Assert.Equal("s.yaml: $.metrics[1] (line 11): unknown metric 'foo'. Known: " + string.Join(", ", Metric.KnownNames) + ".", Message(Appended("metrics: [acc, foo]")));
    }

    [Fact]
    public void NamesThatOnlyResembleTypeNamesAreLookedUpAsNames()
    {
        // not dotted identifiers: an empty part, a part starting with a digit, a character outside [A-Za-z0-9_]
        foreach (string a in new[] { "a..b", "1a.b", "a.b-c", "a.", ".b" })
            Assert.Equal($"s.yaml: $.layers[0].activation (line 5): unknown activation '{a}'. Registered: " + string.Join(", ", Activations.Names.Order(StringComparer.Ordinal)) + ".",
                Message(Base.Replace("activation: tanh", $"activation: '{a}'", StringComparison.Ordinal)));
    }

    [Fact]
    public void BoundsThemselvesAreAccepted()
    {
        var s = TrainingSpec.Parse(Appended("epochs: 1000000\nbatch: 1048576\nvalidation_split: 0.99\nseed: 0\nsteps: 10000"), "s.yaml");
        Assert.Equal((1_000_000, 1 << 20, 0.99, 0UL, 10_000), (s.Epochs, s.BatchSize, s.ValidationSplit, s.Seed, s.Network.Steps));
        var t = TrainingSpec.Parse(Appended("epochs: 3.0\nvalidation_split: 0"), "s.yaml"); // a whole number written as a float
        Assert.Equal((3, 0.0), (t.Epochs, t.ValidationSplit));
        var d = TrainingSpec.Parse(Base, "s.yaml"); // defaults
        Assert.Equal((1, 32, 0.0, 1UL), (d.Epochs, d.BatchSize, d.ValidationSplit, d.Seed));
        Assert.Equal("t", d.Name);
        Assert.Equal("s", TrainingSpec.Parse(Base.Replace("name: t\n", "", StringComparison.Ordinal), "dir/s.yaml").Name);
        string name128 = new('n', 128);
        var n = TrainingSpec.Parse(Base.Replace("name: x,", $"name: {name128},", StringComparison.Ordinal).Replace("from: x,", $"from: {name128},", StringComparison.Ordinal), "s.yaml");
        Assert.Equal(name128, n.Network.Inputs[0].Name);
        var four = TrainingSpec.Parse(Base.Replace("{name: x, size: 4}", "{name: x, shape: [1, 1, 1, 4]}", StringComparison.Ordinal), "s.yaml");
        Assert.Equal([1, 1, 1, 4], four.Network.Inputs[0].DeclaredShape!);
        var upper = TrainingSpec.Parse(Base.Replace("activation: tanh}", "combine: PRODUCT}", StringComparison.Ordinal), "s.yaml");
        Assert.Equal(CombineRule.Product, upper.Network.Layers.Single(l => l.Name == "h").Combine);
    }

    private const string Theanets = """
        name: m
        model: {kind: classifier, layers: [4, 3, 2]}
        """;

    private static readonly (string Old, string Edit, string Expected)[] TheanetsCases =
    [
        ("kind: classifier", "kind: svm", "$.model.kind (line 2): unknown model kind 'svm'. Registered: classifier, regressor, autoencoder."),
        ("kind: classifier", "kind: classifier, data_kind: graph", "$.model.data_kind (line 2): unknown data kind 'graph'. Registered: feedforward, convolutional."),
        ("kind: classifier", "kind: classifier, data_kind: Recurrent", "$.model.data_kind (line 2): theanets' recurrent models take sequences whose length the shorthand cannot state; describe the network with inputs (with sequence_length), layers and connections instead, as examples/specs/lstm.yaml does."),
        ("kind: classifier", "kind: classifier, loss: mse", "$.model.loss (line 2): unknown key 'loss'. Allowed here: kind, layers, data_kind."),
        ("layers: [4, 3, 2]", "layers: [4]", "$.model.layers (line 2): theanets layer specs need an input and at least one layer; there are 1."),
        ("layers: [4, 3, 2]", "layers: 4", "$.model.layers (line 2): 'layers' must be a list, found the number 4."),
        ("layers: [4, 3, 2]", "sizes: [4, 3, 2]", "$.model.sizes (line 2): unknown key 'sizes'. Allowed here: kind, layers, data_kind."),
        ("layers: [4, 3, 2]", "layers: [4, 0]", "$.model.layers[1] (line 2): a layer size must be a whole number from 1 to 16777216, found the number 0."),
        ("layers: [4, 3, 2]", "layers: [4, 16777217]", "$.model.layers[1] (line 2): a layer size must be a whole number from 1 to 16777216, found the number 16777217."),
        ("layers: [4, 3, 2]", "layers: [4, 2.5]", "$.model.layers[1] (line 2): a layer size must be a whole number from 1 to 16777216, found the number 2.5."),
        ("layers: [4, 3, 2]", "layers: [4, []]", "$.model.layers[1] (line 2): a list spec has 1 to 8 entries; it has 0."),
        ("layers: [4, 3, 2]", "layers: [4, [1, 1, 1, 1, 1, 1, 1, 1, 1]]", "$.model.layers[1] (line 2): a list spec has 1 to 8 entries; it has 9."),
        ("layers: [4, 3, 2]", "layers: [4, true]", "$.model.layers[1] (line 2): a theanets layer spec is a size, a form name, a list or an object; found true."),
        ("layers: [4, 3, 2]", "layers: [4, [3, 0]]", "$.model.layers[1][1] (line 2): a layer size must be a whole number from 1 to 16777216, found the number 0."),
        ("layers: [4, 3, 2]", "layers: [4, System.Object]", "$.model.layers[1] (line 2): 'System.Object' looks like a .NET type name; a spec names a registered layer form by its short name. FlexNet never loads a type named in a file."),
        ("layers: [4, 3, 2]", "layers: [4, {size: 3, form: A.B}]", "$.model.layers[1].form (line 2): 'A.B' looks like a .NET type name; a spec names a registered layer form by its short name. FlexNet never loads a type named in a file."),
        ("layers: [4, 3, 2]", "layers: [4, {size: 3, activation: A.B}]", "$.model.layers[1].activation (line 2): 'A.B' looks like a .NET type name; a spec names a registered activation by its short name. FlexNet never loads a type named in a file."),
        ("layers: [4, 3, 2]", "layers: [4, {size: 3, inputs: [5]}]", "$.model.layers[1].inputs[0] (line 2): expected a name, found the number 5."),
        ("layers: [4, 3, 2]", "layers: [4, {size: 3, drop: {a: 1}}]", "$.model.layers[1].drop (line 2): a form's argument must be text, a number, true/false or a list of whole numbers; found an object."),
    ];

    public static TheoryData<int> TheanetsEdits() => new(Enumerable.Range(0, TheanetsCases.Length));

    [Theory]
    [MemberData(nameof(TheanetsEdits))]
    public void OneTheanetsDefectGivesItsWholeMessage(int index) => AssertEdit(Theanets, TheanetsCases[index]);

    [Fact]
    public void ModelWithAGraphKeyNamesTheFirstGraphKeySet()
    {
        Assert.Equal("s.yaml: $.steps (line 3): give 'model' (theanets layer specs) or inputs/layers/connections/outputs, not both; 'steps' is set.",
            Message(Theanets + "\nsteps: 2"));
        Assert.Equal("s.yaml: $.outputs (line 3): give 'model' (theanets layer specs) or inputs/layers/connections/outputs, not both; 'outputs' is set.",
            Message(Theanets + "\noutputs: [y]\nsteps: 2"));
    }
}
