# Turns the output of `cc -shared -Wl,--verbose` (the system linker's
# default script for our flags) into the script we link with:
#  - the input sections named in the file `hot` first in .text;
#  - .rodata right after the relocations, in the first read-only segment,
#    which loading touches anyway, so the segment of unwinding tables
#    behind the text stays unmapped until something unwinds.
# Both libraries' layouts rest on why: see bench/hot_sections.py.
/^=====/ { inside = !inside; next }
!inside { next }
/^ *\.rodata +:/ { next }
{ print }
/^ *\.relr\.dyn +:/ {
    print "  .rodata         : { *(.rodata .rodata.* .gnu.linkonce.r.*) }"
    moved = 1
}
/^ *\.text +:/ { text = 1; next }
text && /^ *\{/ { print "    INCLUDE " hot; text = 0; included = 1 }
END {
    if (!moved || !included) {
        print "layout.awk: unexpected default linker script" > "/dev/stderr"
        exit 1
    }
}
