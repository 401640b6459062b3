"""synth writes the same bytes in every dataset, and the same attributes, whatever the rank count (1, 2,
3, 4), in float16 and float32, sharded or not."""
import os

from harness import ok, run, same_result, workdir

d = workdir('synthranks')
for dtype, shards in (('f16', 2), ('f32', 1)):
    files = {}
    for r in (1, 2, 3, 4):
        out = os.path.join(d, f'{dtype}-r{r}.h5')
        run(r, 'synth', '--n', 5003, '--dim', 40, '--dtype', dtype, '--shards', shards, '--seed', 3, '-o', out, '-q')
        files[r] = [l for l in open(out[:-3] + '.list').read().split()] if shards > 1 else [out]
    for r in (2, 3, 4):
        for a, b in zip(files[1], files[r]):
            same_result(a, b)
    gen = {}
    for r in (1, 3):
        gen[r] = os.path.join(d, f'gen-{dtype}-r{r}.h5')
        run(r, 'synth', '--like', files[1][0], '--regurgitate', 0.1, '--n', 301, '-o', gen[r], '-q')
    same_result(gen[1], gen[3])
ok('synth identical at 1, 2, 3, 4 ranks')
