rule screen:
    """Per-element AUC, S_AUC and Z_AUC (paper eqs. 1-2) and the selected elements."""
    conda:
        CONDA_ENV
    input:
        samples="results/{dataset}/prepare/samples.gpkg",
        sites="results/{dataset}/prepare/sites.gpkg",
    output:
        elements="results/{dataset}/screening/elements.csv",
        labels="results/{dataset}/screening/sample_labels.csv",
    params:
        screen=settings("screen"),
        seed=config["seed"],
    threads: 4  # elements screened at once (scaled down to --cores)
    log:
        "results/{dataset}/logs/screen.log",
    benchmark:
        "results/{dataset}/benchmarks/screen.tsv"
    script:
        "../scripts/screen.py"
