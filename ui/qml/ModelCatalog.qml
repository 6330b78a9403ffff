// The model manager part of Settings: the downloadable catalog (what fits this computer,
// download with progress / pause / resume / cancel, a Hugging Face token for gated models) and
// the model files on this computer (metadata, why one cannot load, reveal, remove).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root
    required property QtObject workspace
    required property QtObject theme
    required property QtObject catalog       // ui::CatalogModel
    required property QtObject localModels   // ui::LocalModelsModel
    spacing: 6

    Label {
        font.bold: true
        font.pixelSize: 15
        topPadding: 10
        text: qsTr("Download a model")
    }
    Label {
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        color: root.theme.subtle
        text: root.catalog.memoryText + " " + qsTr("Files go to %1.").arg(root.catalog.modelsFolder)
    }
    Label {
        visible: root.catalog.catalogError !== ""
        color: root.theme.error
        text: root.catalog.catalogError
    }

    Repeater {
        model: root.catalog
        delegate: Frame {
            id: entry
            required property int index
            required property string name
            required property string quant
            required property string size
            required property string fit
            required property string fitText
            required property string license
            required property url licenseUrl
            required property string description
            required property string downloadState
            required property real progress
            required property string progressText
            required property string error
            required property string localPath
            required property string verification
            Layout.fillWidth: true

            ColumnLayout {
                anchors.left: parent.left
                anchors.right: parent.right
                spacing: 4
                RowLayout {
                    Layout.fillWidth: true
                    Label {
                        Layout.fillWidth: true
                        font.bold: true
                        elide: Text.ElideRight
                        text: qsTr("%1 · %2 · %3").arg(entry.name).arg(entry.quant).arg(entry.size)
                    }
                    Button {
                        objectName: "downloadButton"
                        visible: entry.downloadState === "available" || entry.downloadState === "failed"
                        text: qsTr("Download")
                        onClicked: root.catalog.download(entry.index)
                    }
                    Button {
                        visible: entry.downloadState === "paused"
                        text: qsTr("Resume")
                        onClicked: root.catalog.download(entry.index)
                    }
                    Button {
                        visible: entry.downloadState === "running"
                        text: qsTr("Pause")
                        onClicked: root.catalog.pause(entry.index)
                    }
                    Button {
                        visible: entry.downloadState === "running" || entry.downloadState === "paused"
                        text: qsTr("Cancel")
                        onClicked: root.catalog.cancel(entry.index)
                    }
                    Button {
                        visible: entry.downloadState === "downloaded"
                        text: qsTr("Use")
                        onClicked: root.workspace.selectModel(entry.localPath)
                    }
                }
                Label {
                    Layout.fillWidth: true
                    wrapMode: Text.Wrap
                    color: entry.fit === "too_big" ? root.theme.error : root.theme.subtle
                    text: entry.fitText + (entry.description !== "" ? " — " + entry.description : "")
                }
                Label {
                    Layout.fillWidth: true
                    elide: Text.ElideRight
                    color: root.theme.subtle
                    textFormat: Text.StyledText
                    linkColor: root.theme.accent
                    text: qsTr("License: <a href=\"%1\">%2</a>").arg(entry.licenseUrl).arg(entry.license)
                    onLinkActivated: link => Qt.openUrlExternally(link)
                }
                RowLayout {
                    visible: entry.downloadState === "running" || entry.downloadState === "paused"
                             || entry.downloadState === "verifying"
                    Layout.fillWidth: true
                    ProgressBar {
                        Layout.fillWidth: true
                        from: 0
                        to: 1
                        indeterminate: entry.progress < 0 || entry.downloadState === "verifying"
                        value: Math.max(0, entry.progress)
                    }
                    Label {
                        text: (entry.downloadState === "paused" ? qsTr("Paused: ") : "") + entry.progressText
                        color: root.theme.subtle
                    }
                }
                Label {
                    // What the downloaded file was checked against, or plainly that it was not.
                    visible: entry.downloadState === "downloaded" && entry.verification !== ""
                    Layout.fillWidth: true
                    wrapMode: Text.Wrap
                    color: root.theme.subtle
                    text: entry.verification
                }
                Label {
                    visible: entry.error !== ""
                    Layout.fillWidth: true
                    wrapMode: Text.Wrap
                    color: root.theme.error
                    text: entry.error
                }
            }
        }
    }

    RowLayout {
        Layout.fillWidth: true
        TextField {
            id: tokenField
            Layout.fillWidth: true
            echoMode: TextInput.Password
            placeholderText: root.catalog.hasToken ? qsTr("Hugging Face token set (type to replace)")
                                                   : qsTr("Hugging Face token (only for gated models)")
        }
        CheckBox {
            id: rememberToken
            text: qsTr("Remember")
        }
        Button {
            text: qsTr("Set token")
            onClicked: {
                root.catalog.setToken(tokenField.text, rememberToken.checked)
                tokenField.clear()
            }
        }
    }

    Label {
        font.bold: true
        font.pixelSize: 15
        topPadding: 10
        text: qsTr("Model files on this computer")
    }
    Label {
        visible: root.localModels.count === 0
        color: root.theme.subtle
        text: qsTr("None yet.")
    }
    Repeater {
        model: root.localModels
        delegate: RowLayout {
            id: file
            required property string path
            required property string name
            required property string parameters
            required property string quant
            required property int contextLength
            required property string size
            required property bool loadable
            required property string problem
            required property bool inFolder
            Layout.fillWidth: true
            ColumnLayout {
                Layout.fillWidth: true
                spacing: 0
                Label {
                    Layout.fillWidth: true
                    elide: Text.ElideRight
                    text: file.name + (file.inFolder ? "" : qsTr("  (referenced)"))
                }
                Label {
                    Layout.fillWidth: true
                    elide: Text.ElideMiddle
                    color: file.loadable ? root.theme.subtle : root.theme.error
                    text: file.loadable ? qsTr("%1 parameters · %2 · context %3 · %4 · %5")
                                          .arg(file.parameters).arg(file.quant).arg(file.contextLength)
                                          .arg(file.size).arg(file.path)
                                        : qsTr("Cannot load here: %1").arg(file.problem)
                }
            }
            Button {
                text: qsTr("Reveal")
                onClicked: root.localModels.reveal(file.path)
            }
            Button {
                text: file.inFolder ? qsTr("Delete…") : qsTr("Forget")
                onClicked: {
                    confirmRemove.path = file.path
                    confirmRemove.inFolder = file.inFolder
                    confirmRemove.open()
                }
            }
        }
    }

    Dialog {
        id: confirmRemove
        property string path
        property bool inFolder: true
        parent: Overlay.overlay
        anchors.centerIn: parent
        modal: true
        title: inFolder ? qsTr("Delete model file?") : qsTr("Forget model?")
        standardButtons: Dialog.Ok | Dialog.Cancel
        Label {
            width: 420
            wrapMode: Text.Wrap
            text: confirmRemove.inFolder ? qsTr("%1 will be deleted from disk.").arg(confirmRemove.path)
                                         : qsTr("%1 stays on disk; LlamaDesk stops listing it.").arg(confirmRemove.path)
        }
        onAccepted: root.localModels.remove(path)
    }
}
