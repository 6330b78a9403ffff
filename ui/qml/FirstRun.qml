// Shown while no model is loaded: one button downloads the catalog model recommended for this
// computer (chosen in C++ by ui::FirstModelOffer from its RAM and GPU), with progress, cancel,
// errors and retry here, and the model loads when the file is on disk. Picking a GGUF file or
// browsing the whole catalog are the secondary ways.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts

Item {
    id: page
    required property QtObject workspace
    required property QtObject theme
    readonly property QtObject offer: firstModelOffer   // ui::FirstModelOffer (ModelManagerParts)
    readonly property bool transferring: offer.state === "downloading" || offer.state === "verifying"
    objectName: "firstRun"

    // Looking at the GPUs creates a Vulkan instance: only when this page is actually shown.
    onVisibleChanged: if (visible) offer.prepare()
    Component.onCompleted: if (visible) offer.prepare()

    ColumnLayout {
        anchors.centerIn: parent
        width: Math.min(parent.width - 64, 560)
        spacing: 14

        Label {
            text: qsTr("Welcome to LlamaDesk")
            font.pixelSize: 24
            font.bold: true
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("LlamaDesk runs Llama models on this computer; nothing you type leaves it. "
                     + "To start, it needs a model.")
        }

        Rectangle {
            objectName: "firstModelOffer"
            Layout.fillWidth: true
            implicitHeight: offerColumn.implicitHeight + 32
            radius: 8
            color: page.theme.base
            border.color: page.theme.border

            ColumnLayout {
                id: offerColumn
                anchors.fill: parent
                anchors.margins: 16
                spacing: 10

                Label {
                    visible: !page.offer.ready
                    color: page.theme.subtle
                    text: qsTr("Finding the right model for this computer…")
                }
                Label {
                    objectName: "offerName"
                    visible: page.offer.available
                    font.bold: true
                    font.pixelSize: 16
                    text: page.offer.name + " · " + page.offer.quant
                }
                Label {
                    objectName: "offerReason"
                    Layout.fillWidth: true
                    visible: page.offer.ready
                    wrapMode: Text.Wrap
                    text: page.offer.reason
                }
                Label {
                    Layout.fillWidth: true
                    visible: page.offer.available
                    wrapMode: Text.Wrap
                    color: page.theme.subtle
                    textFormat: Text.StyledText
                    linkColor: page.theme.accent
                    text: page.offer.description + " "
                          + qsTr("By downloading it you accept the <a href=\"%1\">%2</a>.")
                            .arg(page.offer.licenseUrl).arg(page.offer.license)
                    onLinkActivated: link => Qt.openUrlExternally(link)
                }
                Button {
                    objectName: "offerButton"
                    visible: page.offer.available && !page.transferring
                    highlighted: true
                    text: page.offer.actionText
                    onClicked: page.offer.start()
                }
                ProgressBar {
                    objectName: "offerProgress"
                    Layout.fillWidth: true
                    visible: page.transferring
                    from: 0
                    to: 1
                    indeterminate: page.offer.progress < 0 || page.offer.state === "verifying"
                    value: Math.max(0, page.offer.progress)
                }
                RowLayout {
                    Layout.fillWidth: true
                    visible: page.transferring
                    Label {
                        objectName: "offerProgressText"
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        text: page.offer.progressText
                    }
                    Button {
                        objectName: "offerCancel"
                        text: qsTr("Cancel")
                        enabled: page.offer.state === "downloading"
                        onClicked: page.offer.cancel()
                    }
                }
                Label {
                    objectName: "offerError"
                    Layout.fillWidth: true
                    visible: text !== ""
                    wrapMode: Text.Wrap
                    color: page.theme.error
                    text: page.offer.error
                }
            }
        }

        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: page.theme.subtle
            textFormat: Text.MarkdownText
            text: qsTr("Or use a **GGUF** model file you already have, or choose another model to download. "
                     + "Models in `%1` are listed in Settings.").arg(page.workspace.models.modelsFolder)
        }
        RowLayout {
            spacing: 8
            Button {
                objectName: "chooseFile"
                text: qsTr("Choose a GGUF file…")
                onClicked: picker.open()
            }
            Button {
                objectName: "browseCatalog"
                text: qsTr("Browse the catalog…")
                onClicked: catalogDialog.open()
            }
        }
    }

    FileDialog {
        id: picker
        objectName: "firstRunFileDialog"
        title: qsTr("Choose a model")
        nameFilters: [qsTr("GGUF models (*.gguf)"), qsTr("All files (*)")]
        currentFolder: page.workspace.settings.dialogFolder
        onAccepted: {
            page.workspace.settings.rememberDialogFolder(selectedFile)
            page.workspace.addModelFile(selectedFile)
        }
    }

    Dialog {
        id: catalogDialog
        objectName: "catalogDialog"
        parent: Overlay.overlay
        anchors.centerIn: parent
        width: Math.min(parent.width - 60, 720)
        height: parent.height - 60
        modal: true
        title: qsTr("Models")
        standardButtons: Dialog.Close

        ScrollView {
            id: catalogScroll
            anchors.fill: parent
            contentWidth: availableWidth

            ModelCatalog {
                width: catalogScroll.availableWidth
                workspace: page.workspace
                theme: page.theme
                catalog: modelCatalog
                localModels: localModelFiles
            }
        }
    }
}
