"""SCons builder for the host platform: the system gcc, a plain executable, `-t exec` runs it."""
from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()
env.Replace(
    AR="ar",
    AS="as",
    CC="gcc",
    CXX="g++",
    GDB="gdb",
    OBJCOPY="objcopy",
    RANLIB="ranlib",
    SIZETOOL="size",
    PROGNAME="program",
    PROGSUFFIX="",
)

env.Append(LIBS=["m"], CPPDEFINES=[("TEXTCLF_CORE", '\\"host\\"')])

program = env.BuildProgram()
run_program = env.VerboseAction("$SOURCE $PROGRAM_ARGS", "Running $SOURCE")
env.AddPlatformTarget("exec", program, run_program, "Run the program on this machine")
env.AddPlatformTarget("upload", program, run_program, "Run the program on this machine")
AlwaysBuild(env.Alias("size", program, env.VerboseAction("$SIZETOOL -B -d $SOURCE", "Size")))
Default([program])
