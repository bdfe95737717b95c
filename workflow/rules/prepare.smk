rule prepare:
    """Clean the raw survey and sites into a projected CRS; count every repair in qa.json."""
    conda:
        CONDA_ENV
    input:
        samples=dataset_path("samples"),
        sites=dataset_path("sites"),
    output:
        samples="results/{dataset}/prepare/samples.gpkg",
        sites="results/{dataset}/prepare/sites.gpkg",
        qa="results/{dataset}/prepare/qa.json",
        duplicates="results/{dataset}/prepare/duplicates.csv",
    params:
        dataset=settings("dataset"),
        prepare=settings("prepare"),
    log:
        "results/{dataset}/logs/prepare.log",
    benchmark:
        "results/{dataset}/benchmarks/prepare.tsv"
    script:
        "../scripts/prepare.py"


rule effective_config:
    """The settings this dataset ran with, every default filled in: what to read, edit or pass on. (Not the
    config file's name: the same settings from another file must rerun nothing.)"""
    conda:
        CONDA_ENV
    output:
        config="results/{dataset}/config/effective.yaml",
    params:
        view=lambda wildcards: dataset_view(wildcards.dataset),
    log:
        "results/{dataset}/logs/effective_config.log",
    script:
        "../scripts/effective_config.py"
