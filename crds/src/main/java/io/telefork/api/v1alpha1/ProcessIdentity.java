package io.telefork.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

import java.util.Objects;

/**
 * What the checkpointed process was allowed to do, recorded at dump time so that a restore can refuse a
 * placeholder with more privileges (the restored process keeps the placeholder's credentials).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ProcessIdentity {

    @JsonPropertyDescription("The process name (comm) at dump time; the restored process must show it again.")
    private String comm;

    @JsonPropertyDescription("Effective user ID.")
    private Long uid;

    @JsonPropertyDescription("Effective group ID.")
    private Long gid;

    @JsonPropertyDescription("Effective capability set, hex as in /proc/PID/status CapEff.")
    private String capEff;

    @JsonPropertyDescription("Whether no_new_privs was set.")
    private Boolean noNewPrivs;

    @JsonPropertyDescription("Seccomp mode: 0 none, 1 strict, 2 filter.")
    private Integer seccomp;

    public String getComm() { return comm; }
    public void setComm(String comm) { this.comm = comm; }
    public Long getUid() { return uid; }
    public void setUid(Long uid) { this.uid = uid; }
    public Long getGid() { return gid; }
    public void setGid(Long gid) { this.gid = gid; }
    public String getCapEff() { return capEff; }
    public void setCapEff(String capEff) { this.capEff = capEff; }
    public Boolean getNoNewPrivs() { return noNewPrivs; }
    public void setNoNewPrivs(Boolean noNewPrivs) { this.noNewPrivs = noNewPrivs; }
    public Integer getSeccomp() { return seccomp; }
    public void setSeccomp(Integer seccomp) { this.seccomp = seccomp; }

    @Override
    public boolean equals(Object o) {
        return o instanceof ProcessIdentity p && Objects.equals(comm, p.comm) && Objects.equals(uid, p.uid)
                && Objects.equals(gid, p.gid) && Objects.equals(capEff, p.capEff)
                && Objects.equals(noNewPrivs, p.noNewPrivs) && Objects.equals(seccomp, p.seccomp);
    }

    @Override
    public int hashCode() {
        return Objects.hash(comm, uid, gid, capEff, noNewPrivs, seccomp);
    }
}
