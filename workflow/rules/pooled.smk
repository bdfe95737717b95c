# One test over several surveys (snakemake pooled): every survey's held-out-site
# scores (cv_sites.csv) pooled with a bootstrap that resamples site clusters
# within each survey. A survey named in pooled.surveys is either a dataset of
# this config (its cross-validation runs here) or one whose cv_sites.csv a run
# with its own config file already wrote.


rule pooled:
    """results/pooled/tables/pooled_summary.csv/.md and pooled_signs.csv: each method against the references."""
    conda:
        CONDA_ENV
    input:
        sites=pooled_site_tables,
    output:
        csv="results/pooled/tables/pooled_summary.csv",
        md="results/pooled/tables/pooled_summary.md",
        signs="results/pooled/tables/pooled_signs.csv",
    params:
        surveys=config["pooled"]["surveys"],
        weight=config["pooled"]["weight"],
        n_boot=config["pooled"]["n_boot"],
        seed=config["seed"],
    log:
        "results/pooled/logs/pooled.log",
    script:
        "../scripts/pooled.py"
