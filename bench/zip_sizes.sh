#!/usr/bin/env bash
# Each deploy binary zipped as Lambda takes it (one `bootstrap`, deflate at zlib's default
# level, as cargo lambda zips), and the size of that zip against the 3.5 MB budget.
#   bash bench/zip_sizes.sh                  # x86_64: target/deploy (bench/cold_start.sh builds it)
#   bash bench/zip_sizes.sh target/lambda    # cargo lambda's own zips (…/<binary>/bootstrap.zip)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
dir=${1:-$(cargo_target_dir)/deploy}
python3 - "$dir" <<'PY'
import io, os, pathlib, sys, zipfile
root = pathlib.Path(sys.argv[1])
zips = sorted(root.glob("*/bootstrap.zip"))
rows = []
if zips:
    for z in zips:
        with zipfile.ZipFile(z) as archive:
            binary = archive.getinfo("bootstrap").file_size
        rows.append((z.parent.name, binary, z.stat().st_size))
else:
    for binary in sorted(root.glob("authkit-*")):
        if not binary.is_file() or not os.access(binary, os.X_OK) or binary.suffix:
            continue
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, binary.read_bytes())
        rows.append((binary.name, binary.stat().st_size, len(buffer.getvalue())))
print(f"{'function':<32} {'binary':>9} {'zip':>8}  <= 3.5 MB")
for name, binary, zipped in rows:
    print(f"{name:<32} {binary / 1e6:>6.2f} MB {zipped / 1e6:>5.2f} MB  {'met' if zipped <= 3.5e6 else 'MISSED'}")
PY
