# Turns inference/cuda/*.cu into host C++ for the emulator: kernel launches `k<<<g, b, smem, s>>>(args)`
# become `emu::launch(g, b, smem, [&] { k(args); })` and dynamic shared memory a buffer.
#   python3 gen_sources.py SOURCE_DIR OUT_DIR
import re, glob, os, sys
src_dir, out_dir = sys.argv[1], sys.argv[2]
def split_top(s):
    parts, depth, cur = [], 0, ''
    for ch in s:
        if ch in '([{<': depth += 1
        if ch in ')]}>': depth -= 1
        if ch == ',' and depth == 0:
            parts.append(cur.strip()); cur = ''
        else: cur += ch
    parts.append(cur.strip()); return parts
for f in glob.glob(os.path.join(src_dir, '*.cu')):
    s = open(f).read()
    s = s.replace('extern __shared__ float smem[];', 'float* smem = static_cast<float*>(::emu::dyn_smem());')
    pat = re.compile(r'(\w+(?:<[^<>;]*>)?)<<<(.*?)>>>\((.*?)\);', re.S)
    def rep(m):
        name, cfg, args = m.group(1), m.group(2), m.group(3)
        c = split_top(cfg)
        while len(c) < 3: c.append('0')
        return '::emu::launch(dim3(%s), dim3(%s), size_t(%s), [&] { %s(%s); });' % (c[0], c[1], c[2], name, args)
    s = pat.sub(rep, s)
    open(os.path.join(out_dir, os.path.basename(f)[:-3] + '_emu.cpp'), 'w').write(s)
