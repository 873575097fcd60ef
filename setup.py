"""Build of the one compiled module of dhnet: the IRLS kernel of ``dhnet.surveillance`` (``_irls.c``).

Everything else is declared in pyproject.toml.  The extension is optional: when it cannot be built (no C
compiler), the install goes on and ``dhnet.surveillance._glm`` uses its numpy path, with the same results (see
docs/engine-conventions.md).  An editable install (``pip install -e .``, bin/setup) builds it next to the source.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "dhnet.surveillance._irls",
            ["src/dhnet/surveillance/_irls.c"],
            # No FMA contraction and no fast-math: the same arithmetic on every machine (see _irls.c);
            # -fno-trapping-math only lets the compiler vectorise the branch-free selects.
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"],
            optional=True,
        )
    ]
)
