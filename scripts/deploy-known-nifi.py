"""Regenerates crates/deploy-check/known-nifi.toml from a git clone of Apache NiFi.

Usage: python3 scripts/deploy-known-nifi.py PATH_TO_NIFI_GIT > crates/deploy-check/known-nifi.toml

Reads PropertyDescriptor/Relationship builders (their `.name(...)`), `.sensitive(true)` and
`renameProperty(...)` calls from the NiFi source files listed below at the tags T2/T1. When
moving the flows to a newer NiFi, bump T2 (and the bundle versions in nifi-templates/), rerun,
and review the diff. VALUES is maintained by hand from each property's allowableValues.
"""
import re, subprocess, sys
REPO=sys.argv[1]
def src(tag,path): return subprocess.run(["git","-C",REPO,"show",f"{tag}:{path}"],capture_output=True,text=True,check=True).stdout
RENAMES=[]
def names(tag,path):
    s=src(tag,path); props=[]; rels=[]; sens=[]
    for m in re.finditer(r"(PropertyDescriptor|Relationship)\s+(\w+)\s*=\s*new\s+(?:PropertyDescriptor\.|Relationship\.)?Builder\(\)(.*?)\.build\(\)", s, re.S):
        n=re.search(r'\.name\(\s*"((?:[^"\\]|\\.)*)"', m.group(3))
        if not n: continue
        v=n.group(1).replace('\\"','"')
        (props if m.group(1)=="PropertyDescriptor" else rels).append(v)
        if m.group(1)=="PropertyDescriptor" and ".sensitive(true)" in m.group(3): sens.append(v)
    consts={m.group(2):re.search(r'\.name\(\s*"((?:[^"\\]|\\.)*)"', m.group(3)) for m in re.finditer(r"(PropertyDescriptor)\s+(\w+)\s*=\s*new\s+(?:PropertyDescriptor\.)?Builder\(\)(.*?)\.build\(\)", s, re.S)}
    ren=[]
    for m in re.finditer(r'renameProperty\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*(\w+)\.getName\(\)', s):
        c=consts.get(m.group(2))
        if c: ren.append((m.group(1).replace('\\"','"'), c.group(1)))
    RENAMES.extend(ren)
    return props, rels, sens
S2="nifi-extension-bundles/nifi-standard-bundle/nifi-standard-processors/src/main/java/org/apache/nifi/processors/standard/"
S1="nifi-nar-bundles/nifi-standard-bundle/nifi-standard-processors/src/main/java/org/apache/nifi/processors/standard/"
A="nifi-extension-bundles/nifi-aws-bundle/"
L="nifi-extension-bundles/nifi-extension-utils/nifi-listed-entity/src/main/java/org/apache/nifi/processor/util/list/"
T2="rel/nifi-2.11.0"; T1="rel/nifi-1.28.1"
comps=[
 ("2","processor","org.apache.nifi.processors.standard.ListenHTTP","nifi-standard-nar",T2,[S2+"ListenHTTP.java"],False,[]),
 ("2","processor","org.apache.nifi.processors.standard.InvokeHTTP","nifi-standard-nar",T2,[S2+"InvokeHTTP.java","nifi-extension-bundles/nifi-standard-services/nifi-proxy-configuration-api/src/main/java/org/apache/nifi/proxy/ProxyConfigurationService.java"],True,[]),
 ("2","processor","org.apache.nifi.processors.standard.RetryFlowFile","nifi-standard-nar",T2,[S2+"RetryFlowFile.java"],True,[]),
 ("2","processor","org.apache.nifi.processors.standard.PutFile","nifi-standard-nar",T2,[S2+"PutFile.java"],False,[]),
 ("2","processor","org.apache.nifi.processors.standard.ListFile","nifi-standard-nar",T2,[S2+"ListFile.java",L+"AbstractListProcessor.java",L+"ListedEntityTracker.java"],False,[]),
 ("2","processor","org.apache.nifi.processors.standard.FetchFile","nifi-standard-nar",T2,[S2+"FetchFile.java"],False,[]),
 ("2","processor","org.apache.nifi.processors.aws.s3.PutS3Object","nifi-aws-nar",T2,[A+"nifi-aws-processors/src/main/java/org/apache/nifi/processors/aws/s3/PutS3Object.java",A+"nifi-aws-abstract-processors/src/main/java/org/apache/nifi/processors/aws/s3/AbstractS3Processor.java",A+"nifi-aws-abstract-processors/src/main/java/org/apache/nifi/processors/aws/AbstractAwsProcessor.java",A+"nifi-aws-regions/src/main/java/org/apache/nifi/processors/aws/region/RegionUtil.java","nifi-extension-bundles/nifi-extension-utils/nifi-resource-transfer/src/main/java/org/apache/nifi/processors/transfer/ResourceTransferProperties.java","nifi-extension-bundles/nifi-standard-services/nifi-proxy-configuration-api/src/main/java/org/apache/nifi/proxy/ProxyConfigurationService.java"],True,[]),
 ("2","controller-service","org.apache.nifi.processors.aws.credentials.provider.service.AWSCredentialsProviderControllerService","nifi-aws-nar",T2,[A+"nifi-aws-processors/src/main/java/org/apache/nifi/processors/aws/credentials/provider/service/AWSCredentialsProviderControllerService.java"],False,[]),
 ("1","processor","org.apache.nifi.processors.standard.ListenHTTP","nifi-standard-nar",T1,[S1+"ListenHTTP.java"],False,[]),
 ("1","processor","org.apache.nifi.processors.standard.InvokeHTTP","nifi-standard-nar",T1,[S1+"InvokeHTTP.java"],True,["proxy-configuration-service"]),
 ("1","processor","org.apache.nifi.processors.standard.RetryFlowFile","nifi-standard-nar",T1,[S1+"RetryFlowFile.java"],True,[]),
 ("1","processor","org.apache.nifi.processors.standard.PutFile","nifi-standard-nar",T1,[S1+"PutFile.java"],False,[]),
]
# Allowed values of the enumerated properties our flows set, from each property's
# .allowableValues(...) in the same source files (booleans are "true"/"false"; InvokeHTTP's
# HTTP Method is free text in NiFi, listed here are the methods of its HttpMethod enum).
B=["true","false"]
VALUES={
 ("2","org.apache.nifi.processors.standard.InvokeHTTP"):{"HTTP Method":["DELETE","GET","HEAD","OPTIONS","PATCH","POST","PUT"],
   "Request Failure Penalization Enabled":B,"Response Body Ignored":B,"HTTP/2 Disabled":B,"Response Generation Required":B},
 ("2","org.apache.nifi.processors.standard.RetryFlowFile"):{"Penalize Retries":B,"Fail on Nonnumerical Overwrite":B,"Reuse Mode":["fail","warn","reset"]},
 ("2","org.apache.nifi.processors.standard.PutFile"):{"Conflict Resolution Strategy":["replace","ignore","fail"],"Create Missing Directories":B},
 ("2","org.apache.nifi.processors.standard.ListFile"):{"Listing Strategy":["timestamps","entities","none"],"Recurse Subdirectories":B,"Ignore Hidden Files":B,"Include File Attributes":B},
 ("2","org.apache.nifi.processors.standard.FetchFile"):{"Completion Strategy":["None","Move File","Delete File"]},
 ("2","org.apache.nifi.processors.aws.s3.PutS3Object"):{"Use Path Style Access":B,"Use Chunked Encoding":B},
 ("2","org.apache.nifi.processors.aws.credentials.provider.service.AWSCredentialsProviderControllerService"):{"Use Default Credentials":B,"Use Anonymous Credentials":B},
 ("1","org.apache.nifi.processors.standard.InvokeHTTP"):{"HTTP Method":["DELETE","GET","HEAD","OPTIONS","PATCH","POST","PUT"],'Penalize on "No Retry"':B,"ignore-response-content":B},
 ("1","org.apache.nifi.processors.standard.RetryFlowFile"):{"penalize-retries":B,"Fail on Non-numerical Overwrite":B,"reuse-mode":["fail","warn","reset"]},
 ("1","org.apache.nifi.processors.standard.PutFile"):{"Conflict Resolution Strategy":["replace","ignore","fail"],"Create Missing Directories":B},
}
def q(x): return '"'+x.replace('\\','\\\\').replace('"','\\"')+'"'
def arr(xs): return "[\n"+"".join(f"  {q(x)},\n" for x in xs)+"]" if xs else "[]"
out=["# Known Apache NiFi components, property names (the `.name(...)` value, which is what flow",
"# definitions and templates key properties by), sensitive properties and relationships.",
"# Written for snowstream's deploy-check tests by reading Apache NiFi's source at the release",
"# tags named in `nifi_tag` (files listed in `sources`). Only the components our flows use.",
"# `line` is the NiFi major line a flow file targets: \"2\" = 2.x flow definitions (JSON),",
"# \"1\" = 1.x XML templates. `values` lists allowed values of enumerated properties we set.",
"# A 2.x component's property names and the renames its migrateProperties applies come from",
"# `nifi-2x-releases.toml` (generated from every 2.x release tag), its latest release here.",""]
for line,kind,typ,art,tag,files,dyn,extra in comps:
    P=[];R=[];SE=[]; RENAMES.clear()
    for f in files:
        p,r,s=names(tag,f); P+= [x for x in p if x not in P]; R+=[x for x in r if x not in R]; SE+=[x for x in s if x not in SE]
    if typ.endswith("PutS3Object"): R=[x for x in R if x in ("success","failure")]
    P+= [x for x in extra if x not in P]
    out.append("[[component]]")
    out.append(f'line = "{line}"\nkind = "{kind}"\ntype = {q(typ)}\nartifact = "{art}"\nnifi_tag = "{tag}"')
    out.append("sources = "+arr([f.split('/')[-1] for f in files]))
    out.append(f"dynamic_properties = {'true' if dyn else 'false'}")
    vals=VALUES.get((line,typ),{})
    for key in vals: assert key in P, (typ,key)
    # 2.x names and renames: scripts/nifi-release-properties.py writes them per release.
    if line=="1": out.append("properties = "+arr(P))
    out.append("sensitive = "+arr(SE)); out.append("relationships = "+arr(R))
    if line=="1":
        out.append("[component.renamed_from]")
        for old,new in RENAMES:
            if new in P: out.append(f"{q(old)} = {q(new)}")
    out.append("[component.values]")
    for key,vs in vals.items(): out.append(f"{q(key)} = [{', '.join(q(v) for v in vs)}]")
    out.append("")
print("\n".join(out))
