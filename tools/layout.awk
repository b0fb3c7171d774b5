# Turns the output of `cc -shared -Wl,--verbose` (the system linker's
# default script for our flags) into the script we link with:
#  - the input sections named in the file `hot` first in .text;
#  - .rodata right after the relocations, in the first read-only segment,
#    which loading touches anyway: strings, anonymous and merged constants
#    and the constant tables of the hot functions. Tables of functions that never
#    ran stay in the default .rodata, in the segment of unwinding tables
#    behind the text (renamed .rodata.cold), which stays unmapped until
#    something unwinds.
# Why: see bench/hot_sections.py.
BEGIN {
    while ((getline line < hot) > 0) {
        if (line ~ /^ *\*\(\.text\./) {
            # A function's tables: .rodata.F, or .rodata.unlikely.F when
            # LLVM thought F cold.
            gsub(/\.text\.(unlikely\.)?/, ".rodata.", line)
            tables = tables "\n" line
            gsub(/\.rodata\./, ".rodata.unlikely.", line)
            tables = tables "\n" line
        }
    }
    close(hot)
}
/^=====/ { inside = !inside; next }
!inside { next }
/^ *\.rodata +:/ { sub(/\.rodata /, ".rodata.cold "); print; next }
# The first page alignment starts the text segment (-z separate-code), after
# the relocations (.relr.dyn last, where the linker has it): .rodata goes
# just before it, still in the first, read-only segment.
!moved && /^ *\. = ALIGN\(CONSTANT \(MAXPAGESIZE\)\);/ {
    print "  .rodata         :"
    print "  {"
    print "    *(.rodata .rodata.str* .rodata.cst* .rodata..L* .rodata.anon.* .gnu.linkonce.r.*)" tables
    print "  }"
    moved = 1
}
{ print }
/^ *\.text +:/ { text = 1; next }
text && /^ *\{/ { print "    INCLUDE " hot; text = 0; included = 1 }
END {
    if (!moved || !included) {
        print "layout.awk: unexpected default linker script" > "/dev/stderr"
        exit 1
    }
}
