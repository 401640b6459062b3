"""Usage errors exit 2 with one line; help and version exit 0."""
from harness import expect_error, ok, run

expect_error(1, 2, ['unknown command', 'frobnicate'], 'frobnicate')
expect_error(2, 2, ['no command'])
expect_error(1, 2, ['--bogus'], 'synth', '--bogus', '-o', 'x.h5')
expect_error(2, 2, ['--n', '-5'], 'synth', '--n', '-5', '-o', 'x.h5')
expect_error(1, 2, ['--n', 'whole number'], 'synth', '--n', '12abc', '-o', 'x.h5')
expect_error(1, 2, ['--dtype'], 'synth', '--dtype', 'f64', '-o', 'x.h5')
expect_error(1, 2, ['--dup-fraction'], 'synth', '--dup-fraction', '1.5', '-o', 'x.h5')
expect_error(1, 2, ['-o'], 'synth', '--n', '10')
expect_error(1, 2, ['--like'], 'synth', '--regurgitate', '0.1', '-o', 'x.h5')
expect_error(1, 2, ['--mem-per-rank'], 'inspect', '-i', 'x.h5', '--mem-per-rank', 'lots')
expect_error(1, 2, ['--clusters'], 'inspect', '-i', 'x.h5', '--clusters', '-3')
expect_error(1, 2, ['input list'], 'inspect', '-i', '@/nonexistent/list')
expect_error(2, 2, ['usage: memaudit report'], 'report')
out, _ = run(1, '--help')
assert 'synth' in out and 'dedup' in out
out, _ = run(1, '--version')
assert out.startswith('memaudit ')
for cmd in ('synth', 'inspect'):
    out, _ = run(2, cmd, '--help')
    assert 'usage: memaudit ' + cmd in out and out.count('usage:') == 1, out
ok('cli')
